import { decodeKeyCursor, toKeyPage } from '../key-cursor.js';
import type { CursorPage, Partner, PartnerSummary } from '../store.js';
import { type Queryable, statement } from './db.js';
import type { Row } from './tables.js';

type PartnerRow = Pick<Row<'partners'>, 'customer_id' | 'name' | 'created_at'>;

const toPartner = (r: PartnerRow): Partner => ({
  customerId: r.customer_id,
  name: r.name,
  createdAt: r.created_at,
});

const COLUMNS = 'customer_id, name, created_at';
const insert = statement(
  'partner_insert',
  `INSERT INTO partners (customer_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)
   ON CONFLICT DO NOTHING`,
);
const byToken = statement<PartnerRow>(
  'partner_by_token',
  `SELECT ${COLUMNS} FROM partners WHERE token_hash = $1`,
);
const byId = statement<PartnerRow>('partner_by_id', `SELECT ${COLUMNS} FROM partners WHERE customer_id = $1`);
const all = statement<PartnerRow>(
  'partner_all',
  `SELECT ${COLUMNS} FROM partners ORDER BY created_at, customer_id`,
);
// a page: the partners after the cursor's (created_at, customer_id), oldest first, each with its
// endpoint count (an index lookup per partner: endpoints_by_customer)
const page = statement<PartnerRow & { endpoint_count: number }>(
  'partner_page',
  `SELECT ${COLUMNS},
     (SELECT count(*)::int FROM endpoints e WHERE e.customer_id = p.customer_id) AS endpoint_count
   FROM partners p
   WHERE $1::timestamptz IS NULL OR (created_at, customer_id) > ($1::timestamptz, $2::text)
   ORDER BY created_at, customer_id
   LIMIT $3`,
);
const setToken = statement('partner_set_token', 'UPDATE partners SET token_hash = $2 WHERE customer_id = $1');

/** Creates a partner; 'exists' when the customer_id (or, absurdly, the token hash) is taken. */
export async function createPartner(
  db: Queryable,
  p: { customerId: string; name: string | null; tokenHash: string; createdAt: Date },
): Promise<'created' | 'exists'> {
  const { rowCount } = await insert.run(db, [p.customerId, p.name, p.tokenHash, p.createdAt]);
  return rowCount === 1 ? 'created' : 'exists';
}

export async function findPartnerByTokenHash(db: Queryable, tokenHash: string): Promise<Partner | undefined> {
  const row = (await byToken.run(db, [tokenHash])).rows[0];
  return row && toPartner(row);
}

export async function getPartner(db: Queryable, customerId: string): Promise<Partner | undefined> {
  const row = (await byId.run(db, [customerId])).rows[0];
  return row && toPartner(row);
}

export async function listPartners(db: Queryable): Promise<Partner[]> {
  return (await all.run(db, [])).rows.map(toPartner);
}

/** A page of partners, oldest first; see `Store.listPartnerPage`. */
export async function listPartnerPage(
  db: Queryable,
  q: { limit: number; cursor?: string },
): Promise<CursorPage<PartnerSummary>> {
  const after = q.cursor === undefined ? undefined : decodeKeyCursor(q.cursor);
  const { rows } = await page.run(db, [after?.at ?? null, after?.id ?? '', q.limit + 1]);
  const partners = rows.map((r) => ({ ...toPartner(r), endpointCount: r.endpoint_count }));
  return toKeyPage(partners, q.limit, (p) => ({ at: p.createdAt, id: p.customerId }));
}

export async function setPartnerToken(
  db: Queryable,
  customerId: string,
  tokenHash: string,
): Promise<boolean> {
  return (await setToken.run(db, [customerId, tokenHash])).rowCount === 1;
}
