/**
 * 008: failure alerts (issue 14). `notification_settings`: where a partner wants alerts (a webhook URL
 * with its own signing secret, stored encrypted like endpoint secrets, and an email address) and which
 * kinds. `endpoint_alert_state`: what the alerts have already said about an endpoint, so that a
 * transition is told once (the failing episode, the last `endpoint.failing`, the disabling warning).
 * `alerts`: the alerts' outbox, one row per message and channel, claimed with a lease and retried.
 */
export const sql = /* sql */ `
CREATE TABLE notification_settings (
  customer_id    TEXT PRIMARY KEY REFERENCES partners (customer_id) ON DELETE CASCADE,
  webhook_url    TEXT,
  webhook_secret TEXT, -- sealed; kept when webhook_url is cleared, so setting it again keeps the secret
  email          TEXT,
  events         TEXT NOT NULL, -- JSON array of alert event types
  updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE endpoint_alert_state (
  endpoint_id        TEXT PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
  failing_since      INTEGER, -- the failing episode being followed (endpoints.failing_since when seen)
  episode_alerted    INTEGER NOT NULL DEFAULT 0 CHECK (episode_alerted IN (0, 1)),
  failing_alerted_at INTEGER, -- the last endpoint.failing: at most one an hour
  disabling_warned   INTEGER NOT NULL DEFAULT 0 CHECK (disabling_warned IN (0, 1))
) STRICT;

CREATE TABLE alerts (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  id              TEXT NOT NULL UNIQUE,
  event_id        TEXT NOT NULL,
  customer_id     TEXT NOT NULL REFERENCES partners (customer_id) ON DELETE CASCADE,
  endpoint_id     TEXT NOT NULL, -- no foreign key: an alert about a deleted endpoint is still history
  channel         TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
  event_type      TEXT NOT NULL,
  payload         TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
  attempt_count   INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  locked_until    INTEGER,
  target          TEXT,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alerts_by_customer ON alerts (customer_id, seq DESC);
`;
