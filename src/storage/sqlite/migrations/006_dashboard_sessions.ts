/**
 * 006: dashboard sessions (issue 11). The cookie holds a random session id; only its SHA-256 is kept
 * here, as for tokens. `token_hash` is the hash of the token that logged in: a partner's session is
 * valid only while it is still the partner's token (a reset ends it at once, even before the rows are
 * deleted); `customer_id` NULL is the operator. Expired rows are pruned through `expires_at`.
 */
export const sql = /* sql */ `
CREATE TABLE dashboard_sessions (
  id_hash     TEXT PRIMARY KEY,
  customer_id TEXT REFERENCES partners (customer_id) ON DELETE CASCADE,
  token_hash  TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_by_customer ON dashboard_sessions (customer_id);
`;
