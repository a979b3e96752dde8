import type { DashboardSession } from '../store.js';
import { type Queryable, statement } from './db.js';
import type { Row } from './tables.js';

type SessionRow = Omit<Row<'dashboard_sessions'>, 'id_hash'>;

const toSession = (r: SessionRow): DashboardSession => ({
  customerId: r.customer_id,
  tokenHash: r.token_hash,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

const insert = statement(
  'session_insert',
  `INSERT INTO dashboard_sessions (id_hash, customer_id, token_hash, created_at, expires_at)
   VALUES ($1, $2, $3, $4, $5)`,
);
// A partner's session holds only while the partner's token is still the one that logged in.
const get = statement<SessionRow>(
  'session_get',
  `SELECT s.customer_id, s.token_hash, s.created_at, s.expires_at
   FROM dashboard_sessions s LEFT JOIN partners p ON p.customer_id = s.customer_id
   WHERE s.id_hash = $1 AND s.expires_at > $2 AND (s.customer_id IS NULL OR p.token_hash = s.token_hash)`,
);
const remove = statement('session_delete', 'DELETE FROM dashboard_sessions WHERE id_hash = $1');
const removeOfPartner = statement(
  'session_delete_of_partner',
  'DELETE FROM dashboard_sessions WHERE customer_id = $1',
);
const removeOfOperator = statement(
  'session_delete_of_operator',
  'DELETE FROM dashboard_sessions WHERE customer_id IS NULL',
);
const prune = statement(
  'session_prune',
  `DELETE FROM dashboard_sessions WHERE id_hash IN (
     SELECT id_hash FROM dashboard_sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`,
);

export async function createDashboardSession(
  db: Queryable,
  idHash: string,
  s: DashboardSession,
): Promise<void> {
  await insert.run(db, [idHash, s.customerId, s.tokenHash, s.createdAt, s.expiresAt]);
}

export async function getDashboardSession(
  db: Queryable,
  idHash: string,
  now: Date,
): Promise<DashboardSession | undefined> {
  const row = (await get.run(db, [idHash, now])).rows[0];
  return row && toSession(row);
}

export async function deleteDashboardSession(db: Queryable, idHash: string): Promise<boolean> {
  return (await remove.run(db, [idHash])).rowCount === 1;
}

/** Every session of a partner, or (null) of the operator. */
export async function deleteDashboardSessions(db: Queryable, customerId: string | null): Promise<number> {
  const result =
    customerId === null ? await removeOfOperator.run(db, []) : await removeOfPartner.run(db, [customerId]);
  return result.rowCount ?? 0;
}

/** Up to `limit` sessions expired at `now`, oldest first; returns how many. */
export async function pruneDashboardSessions(db: Queryable, now: Date, limit: number): Promise<number> {
  return (await prune.run(db, [now, limit])).rowCount ?? 0;
}
