/**
 * 016: failure alerts (issue 14). `notification_settings`: where a partner wants alerts (a webhook URL
 * with its own signing secret, stored encrypted like endpoint secrets, and an email address) and which
 * kinds. `endpoint_alert_state`: what the alerts have already said about an endpoint, so that a
 * transition is told once (the failing episode, the last `endpoint.failing`, the disabling warning);
 * its row is also the lock under which a transition is decided. `alerts`: the alerts' outbox, one row
 * per message and channel, claimed with a lease (`FOR UPDATE SKIP LOCKED`) and retried.
 */
export const sql = /* sql */ `
CREATE TABLE notification_settings (
  customer_id    text PRIMARY KEY REFERENCES partners (customer_id) ON DELETE CASCADE,
  webhook_url    text,
  webhook_secret text, -- sealed; kept when webhook_url is cleared, so setting it again keeps the secret
  email          text,
  events         jsonb NOT NULL,
  updated_at     timestamptz NOT NULL
);

CREATE TABLE endpoint_alert_state (
  endpoint_id        text PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
  failing_since      timestamptz,
  episode_alerted    boolean NOT NULL DEFAULT false,
  failing_alerted_at timestamptz,
  disabling_warned   boolean NOT NULL DEFAULT false
);

CREATE TABLE alerts (
  seq             bigserial PRIMARY KEY,
  id              text NOT NULL UNIQUE,
  event_id        text NOT NULL,
  customer_id     text NOT NULL REFERENCES partners (customer_id) ON DELETE CASCADE,
  endpoint_id     text NOT NULL,
  channel         text NOT NULL CHECK (channel IN ('webhook', 'email')),
  event_type      text NOT NULL,
  payload         text NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
  attempt_count   integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  locked_until    timestamptz,
  target          text,
  last_error      text,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);

CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alerts_by_customer ON alerts (customer_id, seq DESC);
`;
