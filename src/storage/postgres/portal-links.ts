import type { PortalLink } from '../store.js';
import { type Queryable, statement } from './db.js';

/** The `portal_links` table (migration 015). */
interface PortalLinkRow {
  token_hash: string;
  customer_id: string;
  partner_token_hash: string;
  created_at: Date;
  expires_at: Date;
}

const toLink = (r: Omit<PortalLinkRow, 'token_hash'>): PortalLink => ({
  customerId: r.customer_id,
  partnerTokenHash: r.partner_token_hash,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

// bound to the partner's token as it is now; no row when there is no such partner
const insert = statement(
  'portal_link_insert',
  `INSERT INTO portal_links (token_hash, customer_id, partner_token_hash, created_at, expires_at)
   SELECT $1, customer_id, token_hash, $3, $4 FROM partners WHERE customer_id = $2`,
);
// one statement, so one use: a second waits for the first's row lock, then finds the row gone
const consume = statement<Omit<PortalLinkRow, 'token_hash'>>(
  'portal_link_consume',
  `DELETE FROM portal_links l USING partners p
   WHERE l.token_hash = $1 AND l.expires_at > $2
     AND p.customer_id = l.customer_id AND p.token_hash = l.partner_token_hash
   RETURNING l.customer_id, l.partner_token_hash, l.created_at, l.expires_at`,
);
const prune = statement(
  'portal_link_prune',
  `DELETE FROM portal_links WHERE token_hash IN (
     SELECT token_hash FROM portal_links WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`,
);

/** Stores a link bound to the partner's current token; false when there is no such partner. */
export async function createPortalLink(
  db: Queryable,
  tokenHash: string,
  link: Omit<PortalLink, 'partnerTokenHash'>,
): Promise<boolean> {
  const result = await insert.run(db, [tokenHash, link.customerId, link.createdAt, link.expiresAt]);
  return result.rowCount === 1;
}

/** The link, deleted in the same statement; undefined when unknown, used, expired or voided by a reset. */
export async function consumePortalLink(
  db: Queryable,
  tokenHash: string,
  now: Date,
): Promise<PortalLink | undefined> {
  const row = (await consume.run(db, [tokenHash, now])).rows[0];
  return row && toLink(row);
}

/** Up to `limit` links expired at `now`, oldest first; returns how many. */
export async function prunePortalLinks(db: Queryable, now: Date, limit: number): Promise<number> {
  return (await prune.run(db, [now, limit])).rowCount ?? 0;
}
