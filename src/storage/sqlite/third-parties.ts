import type { Database } from 'better-sqlite3';
import { cursorAfter, decodeKeyCursor, toKeyPage } from '../key-cursor.js';
import type {
  CursorPage,
  NewThirdPartyCustomer,
  Page,
  Reason,
  ThirdPartyCustomer,
  ThirdPartyStatus,
} from '../store.js';
import { type Row, toDate } from './tables.js';

type ThirdPartyRow = Row<'third_parties'>;

/** Row → domain. JSON columns are parsed; `reasons` stays null unless REJECTED with reasons. */
export const toThirdParty = (r: ThirdPartyRow): ThirdPartyCustomer => ({
  customerId: r.customer_id,
  clientCustomerRef: r.client_customer_ref,
  status: r.status,
  reasons: r.reasons === null ? null : (JSON.parse(r.reasons) as Reason[]),
  clientCustomerDetails: JSON.parse(r.client_customer_details) as Record<string, unknown>,
  propertyDetails: JSON.parse(r.property_details) as Record<string, unknown>[],
  createdAt: toDate(r.created_at),
  updatedAt: toDate(r.updated_at),
});

/** A third party's place in its partner's list: the key its cursor encodes. */
const thirdPartyKey = (t: ThirdPartyCustomer) => ({ at: t.createdAt, id: t.clientCustomerRef });

/** Third-party customers: create, get, list. Decisions live in decisions.ts. */
export function thirdPartyQueries(db: Database) {
  const insert = db.prepare<Omit<ThirdPartyRow, 'last_event_at'>>(
    `INSERT INTO third_parties (customer_id, client_customer_ref, status, reasons, client_customer_details,
       property_details, created_at, updated_at)
     VALUES (@customer_id, @client_customer_ref, @status, @reasons, @client_customer_details,
       @property_details, @created_at, @updated_at)
     ON CONFLICT (customer_id, client_customer_ref) DO NOTHING`,
  );
  const get = db.prepare<[string, string], ThirdPartyRow>(
    'SELECT * FROM third_parties WHERE customer_id = ? AND client_customer_ref = ?',
  );
  type ListParams = { customer_id: string; status: ThirdPartyStatus | null; limit: number; offset: number };
  const list = db.prepare<ListParams, ThirdPartyRow>(
    `SELECT * FROM third_parties
     WHERE customer_id = @customer_id AND (@status IS NULL OR status = @status)
     ORDER BY created_at DESC, client_customer_ref
     LIMIT @limit OFFSET @offset`,
  );
  const count = db
    .prepare<Omit<ListParams, 'limit' | 'offset'>, number>(
      'SELECT count(*) FROM third_parties WHERE customer_id = @customer_id AND (@status IS NULL OR status = @status)',
    )
    .pluck();
  // count and page from one snapshot
  const page = db.transaction((p: ListParams): Page<ThirdPartyCustomer> & { nextCursor: string | null } => {
    const total = count.get({ customer_id: p.customer_id, status: p.status }) ?? 0;
    const items = list.all(p).map(toThirdParty);
    const last = items.at(-1);
    const more = p.offset + items.length < total && last !== undefined;
    return { items, total, nextCursor: more ? cursorAfter(last, thirdPartyKey) : null };
  });
  // newest first, so "after" the cursor's key is older, or as old with a greater ref
  type KeyParams = Omit<ListParams, 'offset'> & { after_at: number | null; after_ref: string };
  const after = db.prepare<KeyParams, ThirdPartyRow>(
    `SELECT * FROM third_parties
     WHERE customer_id = @customer_id AND (@status IS NULL OR status = @status)
       AND (@after_at IS NULL OR created_at < @after_at
            OR (created_at = @after_at AND client_customer_ref > @after_ref))
     ORDER BY created_at DESC, client_customer_ref
     LIMIT @limit`,
  );

  return {
    create(t: NewThirdPartyCustomer): 'created' | 'exists' {
      const at = t.createdAt.getTime();
      const { changes } = insert.run({
        customer_id: t.customerId,
        client_customer_ref: t.clientCustomerRef,
        status: 'PENDING',
        reasons: null,
        client_customer_details: JSON.stringify(t.clientCustomerDetails),
        property_details: JSON.stringify(t.propertyDetails),
        created_at: at,
        updated_at: at,
      });
      return changes === 1 ? 'created' : 'exists';
    },
    get(customerId: string, clientCustomerRef: string): ThirdPartyCustomer | undefined {
      const row = get.get(customerId, clientCustomerRef);
      return row && toThirdParty(row);
    },
    list(
      customerId: string,
      q: { status?: ThirdPartyStatus; limit: number; offset: number },
    ): Page<ThirdPartyCustomer> & { nextCursor: string | null } {
      return page({ customer_id: customerId, status: q.status ?? null, limit: q.limit, offset: q.offset });
    },
    listAfter(
      customerId: string,
      q: { status?: ThirdPartyStatus; limit: number; cursor?: string },
    ): CursorPage<ThirdPartyCustomer> {
      const key = q.cursor === undefined ? undefined : decodeKeyCursor(q.cursor);
      const rows = after.all({
        customer_id: customerId,
        status: q.status ?? null,
        after_at: key?.at.getTime() ?? null,
        after_ref: key?.id ?? '',
        limit: q.limit + 1,
      });
      return toKeyPage(rows.map(toThirdParty), q.limit, thirdPartyKey);
    },
  };
}
