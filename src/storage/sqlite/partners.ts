import type { Database } from 'better-sqlite3';
import { decodeKeyCursor, toKeyPage } from '../key-cursor.js';
import type { CursorPage, Partner, PartnerSummary } from '../store.js';
import { type Row, toDate } from './tables.js';

type PartnerRow = Pick<Row<'partners'>, 'customer_id' | 'name' | 'created_at'>;

const toPartner = (r: PartnerRow): Partner => ({
  customerId: r.customer_id,
  name: r.name,
  createdAt: toDate(r.created_at),
});

const COLUMNS = 'customer_id, name, created_at';

/** Partners and their bearer token hashes. */
export function partnerQueries(db: Database) {
  const insert = db.prepare<Row<'partners'>>(
    `INSERT INTO partners (customer_id, name, token_hash, created_at)
     VALUES (@customer_id, @name, @token_hash, @created_at) ON CONFLICT DO NOTHING`,
  );
  const byToken = db.prepare<[string], PartnerRow>(`SELECT ${COLUMNS} FROM partners WHERE token_hash = ?`);
  const byId = db.prepare<[string], PartnerRow>(`SELECT ${COLUMNS} FROM partners WHERE customer_id = ?`);
  const all = db.prepare<[], PartnerRow>(`SELECT ${COLUMNS} FROM partners ORDER BY created_at, customer_id`);
  // a page: the partners after the cursor's (created_at, customer_id), oldest first, each with its
  // endpoint count (an index lookup per partner: endpoints_by_customer)
  const page = db.prepare<
    { after_at: number | null; after_id: string; limit: number },
    PartnerRow & { endpoint_count: number }
  >(
    `SELECT ${COLUMNS},
       (SELECT count(*) FROM endpoints e WHERE e.customer_id = p.customer_id) AS endpoint_count
     FROM partners p
     WHERE @after_at IS NULL OR (created_at, customer_id) > (@after_at, @after_id)
     ORDER BY created_at, customer_id
     LIMIT @limit`,
  );
  const setToken = db.prepare<[string, string]>('UPDATE partners SET token_hash = ? WHERE customer_id = ?');

  return {
    create(p: {
      customerId: string;
      name: string | null;
      tokenHash: string;
      createdAt: Date;
    }): 'created' | 'exists' {
      const { changes } = insert.run({
        customer_id: p.customerId,
        name: p.name,
        token_hash: p.tokenHash,
        created_at: p.createdAt.getTime(),
      });
      return changes === 1 ? 'created' : 'exists';
    },
    findByTokenHash(tokenHash: string): Partner | undefined {
      const row = byToken.get(tokenHash);
      return row && toPartner(row);
    },
    get(customerId: string): Partner | undefined {
      const row = byId.get(customerId);
      return row && toPartner(row);
    },
    list: (): Partner[] => all.all().map(toPartner),
    listPage(q: { limit: number; cursor?: string }): CursorPage<PartnerSummary> {
      const after = q.cursor === undefined ? undefined : decodeKeyCursor(q.cursor);
      const rows = page.all({
        after_at: after?.at.getTime() ?? null,
        after_id: after?.id ?? '',
        limit: q.limit + 1,
      });
      const partners = rows.map((r) => ({ ...toPartner(r), endpointCount: r.endpoint_count }));
      return toKeyPage(partners, q.limit, (p) => ({ at: p.createdAt, id: p.customerId }));
    },
    setToken: (customerId: string, tokenHash: string): boolean =>
      setToken.run(tokenHash, customerId).changes === 1,
  };
}
