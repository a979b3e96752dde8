import type { Database } from 'better-sqlite3';
import type { PortalLink } from '../store.js';
import { toDate } from './tables.js';

/** The `portal_links` table (migration 007); times in epoch milliseconds. */
interface PortalLinkRow {
  token_hash: string;
  customer_id: string;
  partner_token_hash: string;
  created_at: number;
  expires_at: number;
}

const toLink = (r: Omit<PortalLinkRow, 'token_hash'>): PortalLink => ({
  customerId: r.customer_id,
  partnerTokenHash: r.partner_token_hash,
  createdAt: toDate(r.created_at),
  expiresAt: toDate(r.expires_at),
});

/** Partner portal links, keyed by the SHA-256 of the link's token. */
export function portalLinkQueries(db: Database) {
  // bound to the partner's token as it is now; no row when there is no such partner
  const insert = db.prepare<Omit<PortalLinkRow, 'partner_token_hash'>>(
    `INSERT INTO portal_links (token_hash, customer_id, partner_token_hash, created_at, expires_at)
     SELECT @token_hash, customer_id, token_hash, @created_at, @expires_at
     FROM partners WHERE customer_id = @customer_id`,
  );
  // one statement, so one use: a second finds no row
  const consume = db.prepare<[string, number], Omit<PortalLinkRow, 'token_hash'>>(
    `DELETE FROM portal_links
     WHERE token_hash = ? AND expires_at > ?
       AND partner_token_hash = (SELECT p.token_hash FROM partners p WHERE p.customer_id = portal_links.customer_id)
     RETURNING customer_id, partner_token_hash, created_at, expires_at`,
  );
  const prune = db.prepare<[number, number]>(
    `DELETE FROM portal_links WHERE token_hash IN (
       SELECT token_hash FROM portal_links WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
  );
  return {
    create(tokenHash: string, link: Omit<PortalLink, 'partnerTokenHash'>): boolean {
      const result = insert.run({
        token_hash: tokenHash,
        customer_id: link.customerId,
        created_at: link.createdAt.getTime(),
        expires_at: link.expiresAt.getTime(),
      });
      return result.changes === 1;
    },
    consume(tokenHash: string, now: Date): PortalLink | undefined {
      const row = consume.get(tokenHash, now.getTime());
      return row && toLink(row);
    },
    prune: (now: Date, limit: number): number => prune.run(now.getTime(), limit).changes,
  };
}
