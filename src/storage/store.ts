/**
 * The platform's storage, one interface for every database.
 *
 * Glossary
 * - Partner: an account on the platform, identified by its `customer_id`, holding a bearer token.
 * - ThirdPartyCustomer: a person a partner brings in, named by the partner's `client_customer_ref`
 *   (unique within the partner). Starts `PENDING`; a ComplianceDecision makes it APPROVED or REJECTED.
 * - ComplianceDecision: the operator's verdict. One that changes the status writes the new status,
 *   the event (the outbox row) and one Delivery per subscribed, enabled Endpoint in ONE transaction.
 * - StoredEvent: the outbox row: the exact JSON bytes that are signed and sent, never re-serialised.
 * - Endpoint: a partner's webhook URL subscribed to event types, with one or more signing secrets
 *   (two during a rotation: the old one stays valid for 24 hours).
 * - Delivery: one event to one endpoint; `pending` until `delivered` or `failed`. Attempts are its log.
 *
 * Every method is async so that SQLite (better-sqlite3, synchronous underneath) and PostgreSQL
 * (node-postgres) follow the same contract. Each method is one whole operation: a method that writes
 * several rows does so in one transaction inside the adapter, so no caller ever holds a transaction
 * open across an `await`. Methods return `undefined` / result objects for ordinary outcomes
 * (not found, conflict) instead of throwing; they throw only on real failures (I/O, bugs).
 */

export type ThirdPartyStatus = 'PENDING' | 'APPROVED' | 'REJECTED';
export type DecisionStatus = 'APPROVED' | 'REJECTED';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface Reason {
  code: string;
  reason: string;
}

export interface Partner {
  customerId: string;
  name: string | null;
  createdAt: Date;
}

/** A partner as the operator's list shows it: with how many webhook endpoints it has (a cheap count). */
export interface PartnerSummary extends Partner {
  endpointCount: number;
}

/** The compliance profile a partner submits; stored as given (already validated by the HTTP layer). */
export interface ThirdPartyCustomerDetails {
  clientCustomerDetails: Record<string, unknown>;
  propertyDetails: Record<string, unknown>[];
}

export interface ThirdPartyCustomer extends ThirdPartyCustomerDetails {
  customerId: string;
  clientCustomerRef: string;
  status: ThirdPartyStatus;
  /** Present only when status is REJECTED. */
  reasons: Reason[] | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface StoredEvent {
  eventId: string;
  customerId: string;
  clientCustomerRef: string;
  eventType: string;
  /** The exact JSON text that is signed and delivered. */
  payload: string;
  createdAt: Date;
  /** Monotonic insertion order, used for ordering and cursors. */
  seq: number;
}

export interface EndpointSecret {
  secret: string;
  createdAt: Date;
  /** null while current; set to rotation time + 24 h on the previous secret when rotated. */
  expiresAt: Date | null;
}

export interface Endpoint {
  id: string;
  customerId: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  /** When it last went from enabled to disabled; null while enabled. */
  disabledAt: Date | null;
  /** Deliveries per second it may be sent, across every dispatcher; null: no limit (rate-limit.ts). */
  rateLimit: number | null;
  /** Newest first. Expired secrets are not returned. */
  secrets: EndpointSecret[];
  createdAt: Date;
  updatedAt: Date;
}

export interface Attempt {
  at: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseExcerpt: string | null;
}

export interface Delivery {
  id: string;
  eventId: string;
  endpointId: string;
  status: DeliveryStatus;
  /** Every attempt made, as many as `attempts` lists (a recover starts a new retry round, not a new count). */
  attemptCount: number;
  nextAttemptAt: Date | null;
  createdAt: Date;
  attempts: Attempt[];
  /**
   * Set only while this delivery is pending behind an earlier pending delivery of the same third party
   * (customer_id + client_customer_ref) to the same endpoint: the earliest such one, which is the one
   * being attempted. This delivery is not sent before that one (and any between) is delivered or failed.
   */
  waitingFor?: DeliveryWait;
}

/** The earlier delivery a pending one waits behind (see {@link Delivery.waitingFor}). */
export interface DeliveryWait {
  eventId: string;
  deliveryId: string;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface CursorPage<T> {
  items: T[];
  /** Opaque; pass back to get the next (older) page. null when there is none. */
  nextCursor: string | null;
}

export interface NewThirdPartyCustomer extends ThirdPartyCustomerDetails {
  customerId: string;
  clientCustomerRef: string;
  createdAt: Date;
}

export interface ComplianceDecisionInput {
  customerId: string;
  clientCustomerRef: string;
  status: DecisionStatus;
  /** The reasons to store, as the domain decided them (null on APPROVED). */
  reasons: Reason[] | null;
  decidedAt: Date;
  /**
   * Whether this decision changes the third party as it is now (read under its row lock): the
   * domain's rule (customers/status-change.ts). When it does not, nothing is written. A stored status
   * other than `status` must count as a change: a store may write such a decision without asking
   * (PostgreSQL's one-statement path), and asks only when the status is the same.
   */
  changes: (current: { status: ThirdPartyStatus; reasons: Reason[] | null }) => boolean;
  /**
   * Builds the event for this decision. It gets the `event_timestamp` of the third party's previous
   * event (null when there is none) and returns the event id, its exact JSON text and its
   * `event_timestamp`, which the store keeps as the next call's `previousEventAt`: the domain decides
   * the order, the store only serialises the writes per third party. The store writes the event only
   * when its `eventAt` is strictly later than the previous event's, as it is under the row lock: it
   * may first call `buildEvent(null)` and write in one statement if the stored previous event is older
   * than that event (PostgreSQL), and otherwise calls it again, under the row lock, with the previous
   * event's time. An event built and not written is dropped; a throw writes nothing for this decision.
   */
  buildEvent: (previousEventAt: Date | null) => BuiltDecisionEvent;
}

/** What {@link ComplianceDecisionInput.buildEvent} returns. */
export interface BuiltDecisionEvent {
  eventId: string;
  eventType: string;
  /** The exact JSON text to store, sign and send. */
  payload: string;
  /** The event's `event_timestamp`, as a Date (whole seconds). */
  eventAt: Date;
}

/**
 * The outcome of {@link Store.recordDecision}.
 *
 * - `not_found`: no such third party for that partner; nothing written.
 * - `unchanged`: the decision equals the current state (same status; for REJECTED also the same set of
 *   reasons); nothing written, no event.
 * - `changed`: status, reasons and `updatedAt` written, the event stored and one pending Delivery per
 *   enabled endpoint of the partner subscribed to the event's type, all in one transaction.
 *   REJECTED → REJECTED with different reasons is a change (the partner needs the new reasons);
 *   APPROVED → APPROVED never is. APPROVED stores no reasons.
 */
export type DecisionResult =
  | { outcome: 'not_found' }
  | { outcome: 'unchanged'; thirdParty: ThirdPartyCustomer }
  | { outcome: 'changed'; thirdParty: ThirdPartyCustomer; event: StoredEvent; deliveryIds: string[] };

/**
 * One outcome of {@link Store.recordDecisions}: the decision's {@link DecisionResult}, or `refused` when
 * its `buildEvent` threw (`error`, as thrown): nothing is written for that decision, and the others of
 * the batch are recorded as if it had not been there.
 */
export type BatchDecisionResult = DecisionResult | { outcome: 'refused'; error: unknown };

export interface NewEndpoint {
  id: string;
  customerId: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  secret: string;
  createdAt: Date;
  /** Deliveries per second; absent or null: no limit. */
  rateLimit?: number | null;
}

export interface EndpointPatch {
  url?: string;
  description?: string | null;
  eventTypes?: string[];
  /** A new rate limit (null removes it); a different value starts the endpoint's budget afresh. */
  rateLimit?: number | null;
  enabled?: boolean;
  /** Set with enabled: false by the system (410, failure window); cleared when re-enabled. */
  disabledReason?: string | null;
  /**
   * With enabled: true on a disabled endpoint, what happens to the events of its subscribed types
   * emitted since it was disabled: `deliver` (the default) queues one delivery for each that has none
   * for this endpoint yet, in event order, in the same transaction; `skip` leaves them undelivered.
   */
  backlog?: EndpointBacklog;
}

/** What re-enabling an endpoint does with the events emitted while it was disabled. */
export type EndpointBacklog = 'deliver' | 'skip';

/**
 * The outcome of {@link Store.createEndpointWithinLimit}. `url_taken` names the partner's endpoint that
 * already has the URL (URLs compare as stored: the HTTP layer stores them normalised).
 */
export type EndpointCreation =
  | { outcome: 'created'; endpoint: Endpoint }
  | { outcome: 'url_taken'; endpointId: string }
  | { outcome: 'limit_reached' };

/** The outcome of {@link Store.updateEndpoint}; `url_taken` as in {@link EndpointCreation}. */
export type EndpointUpdate =
  | {
      outcome: 'updated';
      endpoint: Endpoint;
      /** Deliveries queued for the backlog by a re-enable (0 otherwise). */
      backfilled: number;
    }
  | { outcome: 'url_taken'; endpointId: string }
  | { outcome: 'not_found' };

export interface IdempotentResponse {
  requestHash: string;
  statusCode: number;
  body: string;
}

/** A dashboard search over third-party customers; across every partner when `customerId` is absent. */
export interface ThirdPartySearch {
  customerId?: string;
  status?: ThirdPartyStatus;
  /** Case-insensitive substring of `client_customer_ref`. */
  refContains?: string;
  /**
   * Case-insensitive substring of `client_customer_ref` or of the submitted name (first name, last
   * name, or both with one space between); ANDed with `refContains` when both are given.
   */
  nameOrRefContains?: string;
  limit: number;
  offset: number;
}

/** A dashboard search over one endpoint's deliveries, newest first; every filter is optional. */
export interface DeliverySearch {
  customerId: string;
  endpointId: string;
  /** Case-insensitive substring of the third party's `client_customer_ref` the event is about. */
  refContains?: string;
  status?: DeliveryStatus;
  /** Created at or after this time. */
  createdFrom?: Date;
  /** Created before this time. */
  createdBefore?: Date;
  limit: number;
  /** As in {@link Store.listDeliveries}. */
  cursor?: string;
}

/** A delivery with what its event says: which third party, and the status it carries. */
export interface DeliveryOfEvent extends Delivery {
  clientCustomerRef: string;
  /** The event's `data.status` (APPROVED, REJECTED); null if the payload has none. */
  eventStatus: string | null;
}

/** One event of a third-party customer with its deliveries (each with its attempts): a timeline row. */
export interface EventDeliveries {
  event: StoredEvent;
  deliveries: Delivery[];
}

/** How an endpoint has been doing since a time: attempt counts and its latest failed attempt. */
export interface EndpointHealth {
  endpointId: string;
  attempts: number;
  /** Attempts answered 2xx. */
  succeeded: number;
  lastAttemptAt: Date | null;
  /** The latest attempt that was not a 2xx, at any time. */
  lastError: (Attempt & { deliveryId: string }) | null;
}

/** Attempts in one minute by outcome: 2xx, permanent refusal (400, 410), anything else. */
export interface MinuteOutcomes {
  minute: Date;
  delivered: number;
  rejected: number;
  failed: number;
}

/**
 * A dashboard session (its id is never stored, only the SHA-256 of it, as for tokens). It is bound to
 * the token that logged in: a partner's session ends when that partner's token is replaced, the
 * operator's when the operator token changes.
 */
export interface DashboardSession {
  /** The partner it is for; null for the operator. */
  customerId: string | null;
  /** The SHA-256 (hex) of the token that logged in. */
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
}

/**
 * A partner portal link (its token is never stored, only the SHA-256 of it): opens the partner's
 * dashboard once, until it expires, while the partner's token is still the one it was made under.
 */
export interface PortalLink {
  customerId: string;
  /** The SHA-256 (hex) of the partner's bearer token when the link was made. */
  partnerTokenHash: string;
  createdAt: Date;
  expiresAt: Date;
}

/** Told before each pending migration runs: its name, how many are done, how many are pending in all. */
export type MigrationProgress = (name: string, done: number, total: number) => void;

/** Where a partner wants failure alerts (issue 14, src/alerts), as stored. */
export interface NotificationSettings {
  customerId: string;
  /** The partner's notification endpoint; alerts about an endpoint are never sent to that endpoint. */
  webhookUrl: string | null;
  /** The notification endpoint's signing secret (decrypted); null until a webhook URL was first set. */
  webhookSecret: string | null;
  email: string | null;
  /** The alert event types wanted (src/alerts/events.ts). */
  events: string[];
  updatedAt: Date;
}

/** What {@link Store.saveNotificationSettings} writes; `webhookSecret` undefined keeps the stored one. */
export interface NotificationSettingsInput {
  customerId: string;
  webhookUrl: string | null;
  webhookSecret?: string;
  email: string | null;
  events: string[];
  updatedAt: Date;
}

/**
 * What the alerts have said about one endpoint so far (see src/alerts/transitions.ts): the failing
 * episode they follow, whether it was announced, the last `endpoint.failing`, the disabling warning.
 */
export interface EndpointAlertState {
  failingSince: Date | null;
  episodeAlerted: boolean;
  failingAlertedAt: Date | null;
  disablingWarned: boolean;
}

/** One endpoint as the alert rules see it, read under its alert-state lock. */
export interface EndpointAlertView {
  endpoint: {
    id: string;
    customerId: string;
    url: string;
    enabled: boolean;
    disabledReason: string | null;
    failingSince: Date | null;
  };
  state: EndpointAlertState;
  settings: NotificationSettings | undefined;
  /** The observation's deliveries that are failed for good now (others are left out). */
  failedDeliveries: FailedDeliveryView[];
  /** The reason, when the observer saw the dispatcher disable the endpoint. */
  disabledNow: string | null;
}

/** A delivery that failed for good, with its last attempt. */
export interface FailedDeliveryView {
  id: string;
  eventId: string;
  attemptCount: number;
  lastStatusCode: number | null;
  lastError: string | null;
}

/** What an observer saw happen to an endpoint (the dispatcher's completions), or nothing (a sweep). */
export interface AlertObservation {
  endpointId: string;
  failedDeliveryIds: readonly string[];
  disabledReason: string | null;
}

export type AlertChannel = 'webhook' | 'email';
export type AlertStatus = 'pending' | 'sent' | 'failed' | 'skipped';

/** One alert message to one channel, to write into the alerts' outbox. */
export interface NewAlert {
  id: string;
  eventId: string;
  customerId: string;
  endpointId: string;
  channel: AlertChannel;
  eventType: string;
  /** The exact JSON text sent (and signed) on the webhook channel; the email is written from it. */
  payload: string;
  createdAt: Date;
  /**
   * A `delivery.failed`: the delivery and its attempt count when it failed. At most one alert per
   * delivery, attempt count and channel is stored (the recorder and the sweep may both see it).
   */
  delivery: { id: string; attemptCount: number } | null;
}

/** A delivery that failed for good and has no alert for that failure yet (the sweep's input). */
export interface UnalertedFailure {
  deliveryId: string;
  endpointId: string;
  /** When it failed (its last update); with the id, where the sweep's walk is. */
  failedAt: Date;
}

/** What the alert rules decided for one endpoint: its new state and the alerts to send. */
export interface AlertDecision {
  state: EndpointAlertState;
  alerts: NewAlert[];
}

/** An alert as the dashboard lists it. */
export interface AlertRecord {
  id: string;
  eventId: string;
  endpointId: string;
  channel: AlertChannel;
  eventType: string;
  payload: string;
  status: AlertStatus;
  attemptCount: number;
  /** Where it went (or was to go): the URL or the address, at the last attempt. */
  target: string | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A claimed alert with what sending it needs, read from the partner's settings at claim time. */
export interface ClaimedAlert {
  id: string;
  eventId: string;
  customerId: string;
  endpointId: string;
  channel: AlertChannel;
  eventType: string;
  payload: string;
  /** Attempts made before this one. */
  attemptCount: number;
  /** The partner's settings now (undefined when they were removed). */
  settings: NotificationSettings | undefined;
  /** The URL of the endpoint the alert is about, now (null when it was deleted). */
  endpointUrl: string | null;
}

/** How one alert attempt ended. */
export type AlertOutcome =
  | { status: 'sent' | 'failed' | 'skipped'; target: string | null; error: string | null }
  | { status: 'pending'; nextAttemptAt: Date; target: string | null; error: string | null };

/** A numbered migration of either database: applied once, in name order, recorded in `migrations`. */
export interface Migration {
  name: string;
  sql: string;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';

  /**
   * Applies the numbered migrations not yet applied; returns the ones it applied. Idempotent.
   * `onProgress` is told before each one starts (for `tpcs migrate`'s progress line).
   */
  migrate(onProgress?: MigrationProgress): Promise<string[]>;
  close(): Promise<void>;
  /**
   * For `/readyz`: commits a one-row write (readiness.ts), so a full disk or a read-only server fails
   * it where a `SELECT 1` would still answer.
   */
  ping(): Promise<void>;

  // settings: the operator token hash and other singletons
  getSetting(key: string): Promise<string | undefined>;
  /** Sets only if absent; returns true when it was set. */
  setSettingIfAbsent(key: string, value: string): Promise<boolean>;

  // partners
  createPartner(p: {
    customerId: string;
    name: string | null;
    tokenHash: string;
    createdAt: Date;
  }): Promise<'created' | 'exists'>;
  findPartnerByTokenHash(tokenHash: string): Promise<Partner | undefined>;
  getPartner(customerId: string): Promise<Partner | undefined>;
  /** Every partner, oldest first (`createdAt`, then `customerId`). */
  listPartners(): Promise<Partner[]>;
  /**
   * Partners a page at a time, in the order of {@link Store.listPartners}, each with its endpoint count.
   * `cursor` is a `nextCursor` from a previous page; one this store did not make throws
   * `InvalidCursorError`. A partner created meanwhile comes last, so it never shifts a page.
   */
  listPartnerPage(q: { limit: number; cursor?: string }): Promise<CursorPage<PartnerSummary>>;
  /** Replaces the partner's token; false when the partner does not exist. */
  setPartnerToken(customerId: string, tokenHash: string): Promise<boolean>;

  // third-party customers
  createThirdParty(t: NewThirdPartyCustomer): Promise<'created' | 'exists'>;
  getThirdParty(customerId: string, clientCustomerRef: string): Promise<ThirdPartyCustomer | undefined>;
  /**
   * Newest first (`createdAt`, then `clientCustomerRef`), by offset; `total` counts every match.
   * `nextCursor` continues after this page in {@link Store.listThirdPartyPage} (null when it is the last).
   */
  listThirdParties(
    customerId: string,
    q: { status?: ThirdPartyStatus; limit: number; offset: number },
  ): Promise<Page<ThirdPartyCustomer> & { nextCursor: string | null }>;
  /**
   * The same list by key instead of by offset: the page after `cursor` (a `nextCursor` of either list
   * method), so a third party created meanwhile never shifts a page and none is seen twice. A cursor
   * this store did not make throws `InvalidCursorError`.
   */
  listThirdPartyPage(
    customerId: string,
    q: { status?: ThirdPartyStatus; limit: number; cursor?: string },
  ): Promise<CursorPage<ThirdPartyCustomer>>;
  /**
   * Status change + event + deliveries in one transaction; see ComplianceDecisionInput. SQLite may
   * share that transaction with decisions that arrived at the same moment (group commit): each keeps
   * its own result, but a database error fails them all.
   */
  recordDecision(d: ComplianceDecisionInput): Promise<DecisionResult>;
  /**
   * Many decisions at once, each decided as {@link recordDecision} would one after another in the
   * order given (two on one third party: the second sees the first, and its event comes after), with
   * one result each, in order. Written in one transaction, so a failure of the database writes none
   * of them; one decision's refusal (see {@link BatchDecisionResult}) does not stop the others.
   */
  recordDecisions(list: readonly ComplianceDecisionInput[]): Promise<BatchDecisionResult[]>;

  // events (the outbox)
  getEvent(customerId: string, eventId: string): Promise<StoredEvent | undefined>;
  /**
   * Newest first (by `seq`). `cursor` is a `nextCursor` from a previous page; a cursor this store did not
   * make throws `InvalidCursorError` (a 400 for the caller, see `./errors.ts`).
   */
  listEvents(customerId: string, q: { limit: number; cursor?: string }): Promise<CursorPage<StoredEvent>>;

  // endpoints
  createEndpoint(e: NewEndpoint): Promise<Endpoint>;
  /**
   * Creates the endpoint unless another endpoint of its partner already has its URL (`url_taken`) or the
   * partner already has `maxPerPartner` endpoints (`limit_reached`), both checked in the same
   * transaction, serialised per partner, so that requests racing each other cannot pass either together.
   */
  createEndpointWithinLimit(e: NewEndpoint, maxPerPartner: number): Promise<EndpointCreation>;
  getEndpoint(customerId: string, endpointId: string): Promise<Endpoint | undefined>;
  /** Every endpoint of the partner, oldest first (`createdAt`, then id). */
  listEndpoints(customerId: string): Promise<Endpoint[]>;
  /**
   * The partner's endpoints a page at a time, in the order of {@link Store.listEndpoints}. `cursor` is
   * a `nextCursor` from a previous page; one this store did not make throws `InvalidCursorError`.
   */
  listEndpointPage(customerId: string, q: { limit: number; cursor?: string }): Promise<CursorPage<Endpoint>>;
  /**
   * Applies the patch. A new `url` that another endpoint of the partner already has is refused
   * (`url_taken`, nothing changed), checked under the same per-partner serialisation as
   * {@link Store.createEndpointWithinLimit}. `enabled: false` on an enabled endpoint records when
   * (`disabledAt`); `enabled: true` clears it and, unless `backlog` is `skip`, queues the backlog (see
   * {@link EndpointPatch.backlog}) and tells the dispatchers.
   */
  updateEndpoint(
    customerId: string,
    endpointId: string,
    patch: EndpointPatch,
    at: Date,
  ): Promise<EndpointUpdate>;
  /** Deletes the endpoint, its secrets and its deliveries (with their attempts); false when absent. */
  deleteEndpoint(customerId: string, endpointId: string): Promise<boolean>;
  /** Adds a new current secret; the previous current one expires at `oldExpiresAt`. */
  rotateEndpointSecret(
    customerId: string,
    endpointId: string,
    secret: string,
    at: Date,
    oldExpiresAt: Date,
  ): Promise<Endpoint | undefined>;

  // deliveries (read side; the dispatcher owns the write side)
  /**
   * The endpoint's deliveries, newest first, each with its attempts (oldest first). Empty when the
   * endpoint does not exist or belongs to another partner. Cursor as in {@link Store.listEvents}.
   */
  listDeliveries(
    customerId: string,
    endpointId: string,
    q: { limit: number; cursor?: string },
  ): Promise<CursorPage<Delivery>>;
  /** One delivery with its attempts, or undefined when it is not that partner's endpoint's. */
  getDelivery(customerId: string, endpointId: string, deliveryId: string): Promise<Delivery | undefined>;

  // dashboard reads (sqlite/dashboard.ts, postgres/dashboard.ts)
  /** Newest first, as {@link Store.listThirdParties}; `total` counts every match. */
  searchThirdParties(q: ThirdPartySearch): Promise<Page<ThirdPartyCustomer>>;
  /** The third party's events, oldest first (at most `limit`), each with its deliveries and attempts. */
  listThirdPartyEvents(
    customerId: string,
    clientCustomerRef: string,
    limit: number,
  ): Promise<EventDeliveries[]>;
  /**
   * One endpoint's deliveries matching `q`, newest first, each with its attempts and what its event
   * says. Empty when the endpoint is not that partner's. Cursor as in {@link Store.listDeliveries}.
   */
  searchDeliveries(q: DeliverySearch): Promise<CursorPage<DeliveryOfEvent>>;
  /** Health of every endpoint of the partner: counts over attempts since `since`, latest error ever. */
  endpointHealth(customerId: string, since: Date): Promise<EndpointHealth[]>;
  /**
   * Attempts per minute since `since` (one partner's or all), oldest first, minutes without attempts
   * omitted. Bounded to the most recent attempts (see the adapters) so a poll stays cheap.
   */
  attemptsPerMinute(q: { customerId?: string; since: Date }): Promise<MinuteOutcomes[]>;

  // idempotency keys for partner POSTs
  getIdempotentResponse(customerId: string, key: string): Promise<IdempotentResponse | undefined>;
  /** Stores only if absent; returns the stored one (which may be another request's). */
  saveIdempotentResponse(
    customerId: string,
    key: string,
    r: IdempotentResponse,
    at: Date,
  ): Promise<IdempotentResponse>;
  /**
   * Deletes up to `limit` keys saved before `createdBefore`, oldest first; returns how many. One short
   * statement per call, so a large backlog is cleared in steps that never hold writers up for long.
   */
  pruneIdempotencyKeys(createdBefore: Date, limit: number): Promise<number>;

  // failure alerts (sqlite/alerts.ts, postgres/alerts.ts; the rules are src/alerts/transitions.ts)
  getNotificationSettings(customerId: string): Promise<NotificationSettings | undefined>;
  /** Creates or replaces the partner's settings; returns them as stored. */
  saveNotificationSettings(s: NotificationSettingsInput): Promise<NotificationSettings>;
  /**
   * For each observed endpoint (in one transaction, endpoints in id order): locks its alert state,
   * reads it with the endpoint, the partner's settings and the observed failed deliveries, calls
   * `decide`, writes the state it returns and its alerts. An endpoint that no longer exists is
   * skipped; a failed delivery already alerted for that failure is left out of the view. Returns the
   * alerts written.
   */
  observeEndpointAlerts(
    observations: readonly AlertObservation[],
    decide: (view: EndpointAlertView) => AlertDecision,
  ): Promise<NewAlert[]>;
  /** Endpoints the alert rules must look at again: failing now, or followed as failing by the alerts. */
  alertCandidates(): Promise<string[]>;
  /**
   * Deliveries failed for good after `after` (by failure time, then id), of partners with notification
   * settings, that have no alert for that failure; oldest first, at most `limit`. What a crash
   * between the queue's commit and the recorder's write left untold.
   */
  unalertedFailures(after: { at: Date; deliveryId: string }, limit: number): Promise<UnalertedFailure[]>;
  /** Up to when the sweep has looked for {@link Store.unalertedFailures} (set by the migration at first). */
  alertSweepWatermark(): Promise<Date>;
  /** Moves the watermark forward to `to` (never back: processes sweep side by side). */
  advanceAlertSweepWatermark(to: Date): Promise<void>;
  /**
   * Deletes up to `limit` alerts created before `createdBefore` that are no longer being sent, oldest
   * first; returns how many (`ALERT_RETENTION`, src/alerts/pruning.ts).
   */
  pruneAlerts(createdBefore: Date, limit: number): Promise<number>;
  /** Claims due pending alerts with a lease (`locked_until` = now + leaseMs), oldest due first. */
  claimAlerts(o: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedAlert[]>;
  /** Records one attempt of a claimed alert. */
  settleAlert(id: string, outcome: AlertOutcome, at: Date): Promise<void>;
  /** The partner's alerts, newest first (every channel), at most `limit`. */
  listAlerts(customerId: string, limit: number): Promise<AlertRecord[]>;

  // dashboard sessions (sqlite/sessions.ts, postgres/sessions.ts), keyed by the SHA-256 of the session id
  createDashboardSession(idHash: string, session: DashboardSession): Promise<void>;
  /**
   * The session, or undefined when there is none, it has expired at `now`, or (a partner's) the
   * partner's token is no longer the one that logged in.
   */
  getDashboardSession(idHash: string, now: Date): Promise<DashboardSession | undefined>;
  /** Ends one session (log-out); false when there was none. */
  deleteDashboardSession(idHash: string): Promise<boolean>;
  /** Ends every session of a partner (null: the operator's); returns how many. */
  deleteDashboardSessions(customerId: string | null): Promise<number>;
  /** Deletes up to `limit` sessions expired at `now`, oldest first; returns how many. */
  pruneDashboardSessions(now: Date, limit: number): Promise<number>;

  // partner portal links (sqlite/portal-links.ts, postgres/portal-links.ts), keyed by the SHA-256 of the token
  /**
   * Stores a link to the partner's dashboard, bound to the partner's token as it is now; false when
   * there is no such partner.
   */
  createPortalLink(tokenHash: string, link: Omit<PortalLink, 'partnerTokenHash'>): Promise<boolean>;
  /**
   * Uses a link up, atomically: returns it and deletes it, or undefined when there is none (never made,
   * or already used), it has expired at `now`, or the partner's token has been replaced since.
   */
  consumePortalLink(tokenHash: string, now: Date): Promise<PortalLink | undefined>;
  /** Deletes up to `limit` links expired at `now`, oldest first; returns how many. */
  prunePortalLinks(now: Date, limit: number): Promise<number>;
}
