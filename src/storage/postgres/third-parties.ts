import { cursorAfter, decodeKeyCursor, toKeyPage } from '../key-cursor.js';
import type {
  CursorPage,
  NewThirdPartyCustomer,
  Page,
  ThirdPartyCustomer,
  ThirdPartyStatus,
} from '../store.js';
import { type Queryable, statement } from './db.js';
import type { Row } from './tables.js';

export type ThirdPartyRow = Row<'third_parties'>;

/** Every column, in the order of {@link ThirdPartyRow}; explicit so cached plans survive new columns. */
export const THIRD_PARTY_COLUMNS =
  'customer_id, client_customer_ref, status, reasons, client_customer_details, property_details, created_at, updated_at';

/** Row → domain. jsonb arrives parsed (its object keys in jsonb's order, not the order submitted). */
export const toThirdParty = (r: ThirdPartyRow): ThirdPartyCustomer => ({
  customerId: r.customer_id,
  clientCustomerRef: r.client_customer_ref,
  status: r.status,
  reasons: r.reasons,
  clientCustomerDetails: r.client_customer_details,
  propertyDetails: r.property_details,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const insert = statement(
  'third_party_insert',
  `INSERT INTO third_parties (customer_id, client_customer_ref, status, reasons, client_customer_details,
     property_details, created_at, updated_at)
   VALUES ($1, $2, 'PENDING', NULL, $3::jsonb, $4::jsonb, $5, $5)
   ON CONFLICT (customer_id, client_customer_ref) DO NOTHING`,
);
const get = statement<ThirdPartyRow>(
  'third_party_get',
  `SELECT ${THIRD_PARTY_COLUMNS} FROM third_parties WHERE customer_id = $1 AND client_customer_ref = $2`,
);
// the count and the page from one statement, so one snapshot; the LEFT JOIN keeps the count row
// even when the page is empty
const page = statement<{ total: string } & { [K in keyof ThirdPartyRow]: ThirdPartyRow[K] | null }>(
  'third_party_page',
  `SELECT c.total, t.*
   FROM (SELECT count(*) AS total FROM third_parties
         WHERE customer_id = $1 AND ($2::text IS NULL OR status = $2)) c
   LEFT JOIN LATERAL (
     SELECT ${THIRD_PARTY_COLUMNS} FROM third_parties
     WHERE customer_id = $1 AND ($2::text IS NULL OR status = $2)
     ORDER BY created_at DESC, client_customer_ref
     LIMIT $3 OFFSET $4
   ) t ON true`,
);

// newest first, so "after" the cursor's key is older, or as old with a greater ref
const after = statement<ThirdPartyRow>(
  'third_party_after',
  `SELECT ${THIRD_PARTY_COLUMNS} FROM third_parties
   WHERE customer_id = $1 AND ($2::text IS NULL OR status = $2)
     AND ($3::timestamptz IS NULL OR created_at < $3
          OR (created_at = $3 AND client_customer_ref > $4::text))
   ORDER BY created_at DESC, client_customer_ref
   LIMIT $5`,
);

/** A third party's place in its partner's list: the key its cursor encodes. */
const thirdPartyKey = (t: ThirdPartyCustomer) => ({ at: t.createdAt, id: t.clientCustomerRef });

export async function createThirdParty(
  db: Queryable,
  t: NewThirdPartyCustomer,
): Promise<'created' | 'exists'> {
  const { rowCount } = await insert.run(db, [
    t.customerId,
    t.clientCustomerRef,
    JSON.stringify(t.clientCustomerDetails),
    JSON.stringify(t.propertyDetails),
    t.createdAt,
  ]);
  return rowCount === 1 ? 'created' : 'exists';
}

export async function getThirdParty(
  db: Queryable,
  customerId: string,
  clientCustomerRef: string,
): Promise<ThirdPartyCustomer | undefined> {
  const row = (await get.run(db, [customerId, clientCustomerRef])).rows[0];
  return row && toThirdParty(row);
}

export async function listThirdParties(
  db: Queryable,
  customerId: string,
  q: { status?: ThirdPartyStatus; limit: number; offset: number },
): Promise<Page<ThirdPartyCustomer> & { nextCursor: string | null }> {
  const { rows } = await page.run(db, [customerId, q.status ?? null, q.limit, q.offset]);
  const items: ThirdPartyCustomer[] = [];
  for (const r of rows) if (r.customer_id !== null) items.push(toThirdParty(r as ThirdPartyRow));
  const total = Number(rows[0]?.total ?? 0);
  const last = items.at(-1);
  const more = q.offset + items.length < total && last !== undefined;
  return { items, total, nextCursor: more ? cursorAfter(last, thirdPartyKey) : null };
}

/** The page after `q.cursor`, newest first; see `Store.listThirdPartyPage`. */
export async function listThirdPartyPage(
  db: Queryable,
  customerId: string,
  q: { status?: ThirdPartyStatus; limit: number; cursor?: string },
): Promise<CursorPage<ThirdPartyCustomer>> {
  const key = q.cursor === undefined ? undefined : decodeKeyCursor(q.cursor);
  const { rows } = await after.run(db, [
    customerId,
    q.status ?? null,
    key?.at ?? null,
    key?.id ?? '',
    q.limit + 1,
  ]);
  return toKeyPage(rows.map(toThirdParty), q.limit, thirdPartyKey);
}
