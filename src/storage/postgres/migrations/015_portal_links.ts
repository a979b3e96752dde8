/**
 * 015: partner portal links (issue 14). A link opens one partner's dashboard once, without a token:
 * only the SHA-256 of its random token is kept here, with the partner's token hash when the link was
 * made (a token reset voids the links made before it) and when it expires. Using a link deletes its
 * row; expired rows are pruned through `expires_at`.
 */
export const sql = /* sql */ `
CREATE TABLE portal_links (
  token_hash         text PRIMARY KEY,
  customer_id        text NOT NULL REFERENCES partners (customer_id) ON DELETE CASCADE,
  partner_token_hash text NOT NULL,
  created_at         timestamptz NOT NULL,
  expires_at         timestamptz NOT NULL
);

CREATE INDEX portal_links_by_expiry ON portal_links (expires_at);
CREATE INDEX portal_links_by_customer ON portal_links (customer_id);
`;
