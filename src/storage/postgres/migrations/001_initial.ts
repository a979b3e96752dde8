/**
 * 001: the platform's tables. Times are timestamptz; the compliance profile and reasons are jsonb;
 * the event payload is text, because its exact bytes are what is signed (jsonb would reorder keys).
 * Every foreign key has an index on its referencing columns, so cascades never scan a table.
 */
export const sql = /* sql */ `
CREATE TABLE settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE partners (
  customer_id text PRIMARY KEY,
  name        text,
  token_hash  text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL
);

CREATE TABLE third_parties (
  customer_id             text NOT NULL REFERENCES partners (customer_id) ON DELETE CASCADE,
  client_customer_ref     text NOT NULL,
  status                  text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
  reasons                 jsonb,
  client_customer_details jsonb NOT NULL,
  property_details        jsonb NOT NULL,
  created_at              timestamptz NOT NULL,
  updated_at              timestamptz NOT NULL,
  PRIMARY KEY (customer_id, client_customer_ref)
);

-- list a partner's third parties, newest first, optionally by status
CREATE INDEX third_parties_by_created ON third_parties (customer_id, created_at DESC, client_customer_ref);
CREATE INDEX third_parties_by_status ON third_parties (customer_id, status, created_at DESC, client_customer_ref);

-- the outbox
CREATE TABLE events (
  seq                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id            text NOT NULL UNIQUE,
  customer_id         text NOT NULL REFERENCES partners (customer_id) ON DELETE CASCADE,
  client_customer_ref text NOT NULL,
  event_type          text NOT NULL,
  payload             text NOT NULL,
  created_at          timestamptz NOT NULL
);

CREATE INDEX events_by_customer ON events (customer_id, seq DESC);

CREATE TABLE endpoints (
  id              text PRIMARY KEY,
  customer_id     text NOT NULL REFERENCES partners (customer_id) ON DELETE CASCADE,
  url             text NOT NULL,
  description     text,
  event_types     text[] NOT NULL,
  enabled         boolean NOT NULL DEFAULT true,
  disabled_reason text,
  -- set by the dispatcher at the first failed attempt after a success; disables after the window
  failing_since   timestamptz,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);

CREATE INDEX endpoints_by_customer ON endpoints (customer_id, created_at, id);

CREATE TABLE endpoint_secrets (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  endpoint_id text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  secret      text NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz -- NULL while current
);

CREATE INDEX endpoint_secrets_by_endpoint ON endpoint_secrets (endpoint_id, created_at DESC, id DESC);

-- one event to one endpoint. seq orders listings; (customer_id, client_customer_ref, event_seq) is the
-- ordering key: a delivery waits while an earlier one of the same key to the same endpoint is pending.
-- locked_by/locked_until are the dispatcher's lease (at-least-once across crashes).
CREATE TABLE deliveries (
  seq                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id                  text NOT NULL UNIQUE,
  event_id            text NOT NULL REFERENCES events (event_id) ON DELETE CASCADE,
  event_seq           bigint NOT NULL,
  endpoint_id         text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  customer_id         text NOT NULL,
  client_customer_ref text NOT NULL,
  status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempt_count       integer NOT NULL DEFAULT 0,
  next_attempt_at     timestamptz,
  locked_by           text,
  locked_until        timestamptz,
  last_attempt_at     timestamptz,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL
);

-- claim due deliveries: pending, next_attempt_at <= now, lease free
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
-- per customer order: is an earlier delivery of the same key to the same endpoint still pending?
CREATE INDEX deliveries_order ON deliveries (endpoint_id, customer_id, client_customer_ref, event_seq)
  WHERE status = 'pending';
-- per endpoint listing, newest first (also serves the endpoint_id foreign key)
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, seq DESC);
CREATE INDEX deliveries_by_event ON deliveries (event_id);

CREATE TABLE attempts (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id      text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  at               timestamptz NOT NULL,
  duration_ms      integer NOT NULL,
  status_code      integer,
  error            text,
  response_excerpt text
);

CREATE INDEX attempts_by_delivery ON attempts (delivery_id, id);

CREATE TABLE idempotency_keys (
  customer_id  text NOT NULL,
  key          text NOT NULL,
  request_hash text NOT NULL,
  status_code  integer NOT NULL,
  body         text NOT NULL,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (customer_id, key)
);

CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created_at);
`;
