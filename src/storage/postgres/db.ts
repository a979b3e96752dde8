import type pg from 'pg';
import { isStorageUnavailable } from '../errors.js';

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
 * The bounds that keep a stalled or unreachable server from holding a request: `timeoutMs` to get a
 * connection (a new one, or a turn when the pool is busy), `statement_timeout` for the server to
 * cancel a slow statement (57014; the connection stays usable), and, a little later, `query_timeout`
 * for when the server does not answer at all (frozen, or the network gone): the client gives up and
 * the pool discards that connection. Each failure is one that `isStorageUnavailable` recognises, so the
 * service answers 503.
 *
 * @example
 * new pg.Pool({ ...config, ...poolTimeouts(5000) });
 */
export function poolTimeouts(timeoutMs: number): pg.PoolConfig {
  const ms = Math.max(1, Math.round(timeoutMs));
  return {
    connectionTimeoutMillis: ms,
    statement_timeout: ms,
    // the server's cancellation, when it can send one, arrives first and keeps the connection
    query_timeout: ms + Math.min(1000, Math.ceil(ms / 4)),
  };
}

/**
 * Runs `fn` in one transaction on one client: BEGIN, COMMIT on success, ROLLBACK on error; the client
 * always goes back to the pool. It is destroyed instead when its connection is in doubt: after a
 * failed ROLLBACK, and after an error saying the server is unavailable (a timeout, a lost connection),
 * where waiting for a ROLLBACK would only wait for the same silent server again; closing the
 * connection rolls the transaction back on the server.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // A connection lost between two statements is reported by the next statement; without a listener
  // the client's 'error' event would end the process.
  client.on('error', ignore);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (err) {
    if (isStorageUnavailable(err)) {
      client.release(err instanceof Error ? err : true);
      throw err;
    }
    try {
      await client.query('ROLLBACK');
      client.release();
    } catch (rollbackError) {
      client.release(rollbackError instanceof Error ? rollbackError : true);
    }
    throw err;
  } finally {
    client.removeListener('error', ignore);
  }
}

function ignore(): void {}
