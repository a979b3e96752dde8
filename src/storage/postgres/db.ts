import type pg from 'pg';

/** A pool or one checked-out client: what every query function runs on. */
export type Queryable = pg.Pool | pg.PoolClient;

/**
 * A named (server-side prepared) statement: parsed and planned once per connection, then only bound
 * and executed. Values are always parameters, never spliced into the text.
 *
 * @example
 * const byId = statement<PartnerRow>('partner_by_id', 'SELECT … FROM partners WHERE customer_id = $1');
 * const { rows } = await byId.run(pool, [customerId]);
 */
export function statement<R extends pg.QueryResultRow>(name: string, text: string) {
  return {
    text,
    run: (db: Queryable, values: unknown[]): Promise<pg.QueryResult<R>> =>
      db.query<R>({ name: `tpcs_${name}`, text, values }),
  };
}

/**
 * Runs `fn` in one transaction on one client: BEGIN, COMMIT on success, ROLLBACK on error; the client
 * always goes back to the pool (destroyed if even ROLLBACK failed, since its state is unknown).
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
      client.release();
    } catch (rollbackError) {
      client.release(rollbackError instanceof Error ? rollbackError : true);
    }
    throw err;
  }
}
