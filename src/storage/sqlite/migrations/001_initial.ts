/**
 * 001: the platform's tables. Times are INTEGER milliseconds since the Unix epoch (UTC); JSON columns
 * are TEXT holding JSON. STRICT tables make SQLite enforce the declared column types.
 */
export const sql = /* sql */ `
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE partners (
  customer_id TEXT PRIMARY KEY,
  name        TEXT,
  token_hash  TEXT NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE third_parties (
  customer_id             TEXT NOT NULL REFERENCES partners (customer_id) ON DELETE CASCADE,
  client_customer_ref     TEXT NOT NULL,
  status                  TEXT NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
  reasons                 TEXT,
  client_customer_details TEXT NOT NULL,
  property_details        TEXT NOT NULL,
  created_at              INTEGER NOT NULL,
  updated_at              INTEGER NOT NULL,
  PRIMARY KEY (customer_id, client_customer_ref)
) STRICT;

-- list a partner's third parties, newest first, optionally by status
CREATE INDEX third_parties_by_created ON third_parties (customer_id, created_at DESC, client_customer_ref);
CREATE INDEX third_parties_by_status ON third_parties (customer_id, status, created_at DESC, client_customer_ref);

-- the outbox: payload is the exact JSON text that is signed and sent
CREATE TABLE events (
  seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id            TEXT NOT NULL UNIQUE,
  customer_id         TEXT NOT NULL REFERENCES partners (customer_id) ON DELETE CASCADE,
  client_customer_ref TEXT NOT NULL,
  event_type          TEXT NOT NULL,
  payload             TEXT NOT NULL,
  created_at          INTEGER NOT NULL
) STRICT;

CREATE INDEX events_by_customer ON events (customer_id, seq DESC);

CREATE TABLE endpoints (
  id              TEXT PRIMARY KEY,
  customer_id     TEXT NOT NULL REFERENCES partners (customer_id) ON DELETE CASCADE,
  url             TEXT NOT NULL,
  description     TEXT,
  event_types     TEXT NOT NULL, -- JSON array of strings
  enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  disabled_reason TEXT,
  -- set by the dispatcher at the first failed attempt after a success; disables after the window
  failing_since   INTEGER,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX endpoints_by_customer ON endpoints (customer_id, created_at, id);

CREATE TABLE endpoint_secrets (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  secret      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER -- NULL while current
) STRICT;

CREATE INDEX endpoint_secrets_by_endpoint ON endpoint_secrets (endpoint_id, created_at DESC, id DESC);

-- one event to one endpoint. seq orders listings; (customer_id, client_customer_ref, event_seq) is the
-- ordering key: a delivery waits while an earlier one of the same key to the same endpoint is pending.
-- locked_by/locked_until are the dispatcher's lease (at-least-once across crashes).
CREATE TABLE deliveries (
  seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
  id                  TEXT NOT NULL UNIQUE,
  event_id            TEXT NOT NULL REFERENCES events (event_id) ON DELETE CASCADE,
  event_seq           INTEGER NOT NULL,
  endpoint_id         TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  customer_id         TEXT NOT NULL,
  client_customer_ref TEXT NOT NULL,
  status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempt_count       INTEGER NOT NULL DEFAULT 0,
  next_attempt_at     INTEGER,
  locked_by           TEXT,
  locked_until        INTEGER,
  last_attempt_at     INTEGER,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL
) STRICT;

-- claim due deliveries: pending, next_attempt_at <= now, lease free
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
-- per customer order: is an earlier delivery of the same key to the same endpoint still pending?
CREATE INDEX deliveries_order ON deliveries (endpoint_id, customer_id, client_customer_ref, event_seq)
  WHERE status = 'pending';
-- per endpoint listing, newest first, and recover (failed since …)
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, seq DESC);
CREATE INDEX deliveries_by_event ON deliveries (event_id);

CREATE TABLE attempts (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id      TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  at               INTEGER NOT NULL,
  duration_ms      INTEGER NOT NULL,
  status_code      INTEGER,
  error            TEXT,
  response_excerpt TEXT
) STRICT;

CREATE INDEX attempts_by_delivery ON attempts (delivery_id, id);

CREATE TABLE idempotency_keys (
  customer_id  TEXT NOT NULL,
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status_code  INTEGER NOT NULL,
  body         TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (customer_id, key)
) STRICT;

CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created_at);
`;
