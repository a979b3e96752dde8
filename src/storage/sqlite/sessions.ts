import type { Database } from 'better-sqlite3';
import type { DashboardSession } from '../store.js';
import { type Row, toDate } from './tables.js';

type SessionRow = Omit<Row<'dashboard_sessions'>, 'id_hash'>;

const toSession = (r: SessionRow): DashboardSession => ({
  customerId: r.customer_id,
  tokenHash: r.token_hash,
  createdAt: toDate(r.created_at),
  expiresAt: toDate(r.expires_at),
});

/** Dashboard sessions, keyed by the SHA-256 of the session id. */
export function sessionQueries(db: Database) {
  const insert = db.prepare<Row<'dashboard_sessions'>>(
    `INSERT INTO dashboard_sessions (id_hash, customer_id, token_hash, created_at, expires_at)
     VALUES (@id_hash, @customer_id, @token_hash, @created_at, @expires_at)`,
  );
  // A partner's session holds only while the partner's token is still the one that logged in.
  const get = db.prepare<[string, number], SessionRow>(
    `SELECT s.customer_id, s.token_hash, s.created_at, s.expires_at
     FROM dashboard_sessions s LEFT JOIN partners p ON p.customer_id = s.customer_id
     WHERE s.id_hash = ? AND s.expires_at > ? AND (s.customer_id IS NULL OR p.token_hash = s.token_hash)`,
  );
  const remove = db.prepare<[string]>('DELETE FROM dashboard_sessions WHERE id_hash = ?');
  const removeOfPartner = db.prepare<[string]>('DELETE FROM dashboard_sessions WHERE customer_id = ?');
  const removeOfOperator = db.prepare<[]>('DELETE FROM dashboard_sessions WHERE customer_id IS NULL');
  // Through the expires_at index, oldest first; the primary key finds each row to delete.
  const prune = db.prepare<[number, number]>(
    `DELETE FROM dashboard_sessions WHERE id_hash IN (
       SELECT id_hash FROM dashboard_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
  );
  return {
    create(idHash: string, s: DashboardSession): void {
      insert.run({
        id_hash: idHash,
        customer_id: s.customerId,
        token_hash: s.tokenHash,
        created_at: s.createdAt.getTime(),
        expires_at: s.expiresAt.getTime(),
      });
    },
    get(idHash: string, now: Date): DashboardSession | undefined {
      const row = get.get(idHash, now.getTime());
      return row && toSession(row);
    },
    delete: (idHash: string): boolean => remove.run(idHash).changes === 1,
    deleteOf: (customerId: string | null): number =>
      (customerId === null ? removeOfOperator.run() : removeOfPartner.run(customerId)).changes,
    prune: (now: Date, limit: number): number => prune.run(now.getTime(), limit).changes,
  };
}
