import Database from 'better-sqlite3';
import { openAnswer, SecretBox, sealAnswer } from '../../secrets/box.js';
import { ensurePrivateFile, restrictSqliteSidecars } from '../../secrets/files.js';
import { type Checkpointer, startCheckpointer } from '../../sqlite/checkpointer.js';
import { DecisionGroups } from '../decision-groups.js';
import { sqliteWriteProbe } from '../readiness.js';
import { QueueSignal } from '../signal.js';
import type {
  AlertDecision,
  AlertObservation,
  AlertOutcome,
  AlertRecord,
  BatchDecisionResult,
  ClaimedAlert,
  ComplianceDecisionInput,
  CursorPage,
  DashboardSession,
  DecisionResult,
  Delivery,
  DeliveryOfEvent,
  DeliverySearch,
  Endpoint,
  EndpointAlertView,
  EndpointCreation,
  EndpointHealth,
  EndpointPatch,
  EndpointUpdate,
  EventDeliveries,
  IdempotentResponse,
  MigrationProgress,
  MinuteOutcomes,
  NewAlert,
  NewEndpoint,
  NewThirdPartyCustomer,
  NotificationSettings,
  NotificationSettingsInput,
  Page,
  Partner,
  PartnerSummary,
  PortalLink,
  Store,
  StoredEvent,
  ThirdPartyCustomer,
  ThirdPartySearch,
  ThirdPartyStatus,
  UnalertedFailure,
} from '../store.js';
import { alertQueries } from './alerts.js';
import { dashboardQueries } from './dashboard.js';
import { decisionQueries } from './decisions.js';
import { deliveryQueries } from './deliveries.js';
import { endpointQueries } from './endpoints.js';
import { eventQueries } from './events.js';
import { idempotencyQueries } from './idempotency.js';
import { migrate } from './migrations.js';
import { partnerQueries } from './partners.js';
import { portalLinkQueries } from './portal-links.js';
import { sessionQueries } from './sessions.js';
import { settingQueries } from './settings.js';
import { thirdPartyQueries } from './third-parties.js';
import { writeLock } from './write-lock.js';

/** Options for {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * `NORMAL` (default): in WAL mode a commit is durable against a crash of the process (kill -9), but
   * the last commits before a power loss or OS crash may be rolled back (the WAL is fsynced at
   * checkpoints, not at every commit); the file is never corrupted and a transaction is never half
   * applied. `FULL`: fsync at every commit, durable against power loss too, at a cost per commit.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a writer waits for another process's write lock before SQLITE_BUSY. Default 5000 ms. */
  busyTimeoutMs?: number;
}

function prepareQueries(db: Database.Database, box: SecretBox) {
  return {
    settings: settingQueries(db),
    partners: partnerQueries(db),
    thirdParties: thirdPartyQueries(db),
    decisions: decisionQueries(db),
    events: eventQueries(db),
    endpoints: endpointQueries(db, box),
    deliveries: deliveryQueries(db),
    idempotency: idempotencyQueries(db),
    sessions: sessionQueries(db),
    portalLinks: portalLinkQueries(db),
    dashboard: dashboardQueries(db),
    alerts: alertQueries(db, box),
  };
}

/**
 * The connection's own checkpoint while the thread checkpoints (40 MB of WAL): only when the thread has
 * fallen that far behind.
 */
export const BACKSTOP_PAGES = 10_000;

/**
 * The embedded store: one better-sqlite3 connection, WAL, foreign keys on.
 *
 * Methods are async to honour the {@link Store} contract, and most run synchronously: each is one SQLite
 * transaction begun and committed within the call, so none is ever held across an `await`. Decisions
 * are the exception in timing only: grouped (see {@link recordDecision}), and waiting for another
 * process's write lock asynchronously (write-lock.ts), but each group is still one synchronous
 * transaction.
 * Statements are prepared once, on first use (after `migrate()` has created the tables).
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #ping: () => Promise<void>;
  readonly #signal: QueueSignal;
  readonly #box: SecretBox;
  #queries: ReturnType<typeof prepareQueries> | undefined;
  #checkpointer: Checkpointer | undefined;

  /** `box` encrypts endpoint secrets and idempotent answers (without keys, it throws when used). */
  constructor(db: Database.Database, signal = new QueueSignal(), box = new SecretBox()) {
    this.#db = db;
    this.#ping = sqliteWriteProbe(db);
    this.#signal = signal;
    this.#box = box;
  }

  /** The connection, for the delivery queue that shares it (see `openStorage`). */
  get database(): Database.Database {
    return this.#db;
  }

  #writeLock: (<R>(run: () => R) => Promise<R>) | undefined;
  /** Decisions wait for another process's write lock without blocking the event loop (write-lock.ts). */
  #write<R>(run: () => R): Promise<R> {
    this.#writeLock ??= writeLock(this.#db); // after openSqliteStore has set busy_timeout
    return this.#writeLock(run);
  }

  get #q(): ReturnType<typeof prepareQueries> {
    this.#queries ??= prepareQueries(this.#db, this.#box);
    return this.#queries;
  }

  async migrate(onProgress?: MigrationProgress): Promise<string[]> {
    return migrate(this.#db, undefined, onProgress);
  }
  /**
   * Moves WAL checkpoints to a thread of their own (src/sqlite/checkpointer.ts), so that no commit of this
   * connection waits for one; `tpcs serve` and `tpcs worker` do. Nothing to do for `:memory:`.
   * Resolves once the thread is checkpointing (or has failed to start, with a warning); never rejects.
   */
  checkpointInBackground(): Promise<void> {
    if (this.#db.memory) return Promise.resolve();
    this.#checkpointer ??= startCheckpointer(this.#db, { backstopPages: BACKSTOP_PAGES });
    return this.#checkpointer.ready;
  }
  async close(): Promise<void> {
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    if (checkpointer) await checkpointer.stop();
    if (this.#db.open) this.#db.close();
  }
  ping(): Promise<void> {
    return this.#ping();
  }

  async getSetting(key: string): Promise<string | undefined> {
    return this.#q.settings.get(key);
  }
  async setSettingIfAbsent(key: string, value: string): Promise<boolean> {
    return this.#q.settings.setIfAbsent(key, value);
  }

  async createPartner(p: {
    customerId: string;
    name: string | null;
    tokenHash: string;
    createdAt: Date;
  }): Promise<'created' | 'exists'> {
    return this.#q.partners.create(p);
  }
  async findPartnerByTokenHash(tokenHash: string): Promise<Partner | undefined> {
    return this.#q.partners.findByTokenHash(tokenHash);
  }
  async getPartner(customerId: string): Promise<Partner | undefined> {
    return this.#q.partners.get(customerId);
  }
  async listPartners(): Promise<Partner[]> {
    return this.#q.partners.list();
  }
  async listPartnerPage(q: { limit: number; cursor?: string }): Promise<CursorPage<PartnerSummary>> {
    return this.#q.partners.listPage(q);
  }
  async setPartnerToken(customerId: string, tokenHash: string): Promise<boolean> {
    return this.#q.partners.setToken(customerId, tokenHash);
  }

  async createThirdParty(t: NewThirdPartyCustomer): Promise<'created' | 'exists'> {
    return this.#q.thirdParties.create(t);
  }
  async getThirdParty(
    customerId: string,
    clientCustomerRef: string,
  ): Promise<ThirdPartyCustomer | undefined> {
    return this.#q.thirdParties.get(customerId, clientCustomerRef);
  }
  async listThirdParties(
    customerId: string,
    q: { status?: ThirdPartyStatus; limit: number; offset: number },
  ): Promise<Page<ThirdPartyCustomer> & { nextCursor: string | null }> {
    return this.#q.thirdParties.list(customerId, q);
  }
  async listThirdPartyPage(
    customerId: string,
    q: { status?: ThirdPartyStatus; limit: number; cursor?: string },
  ): Promise<CursorPage<ThirdPartyCustomer>> {
    return this.#q.thirdParties.listAfter(customerId, q);
  }
  /**
   * Group commit (decision-groups.ts): decisions that arrive while the event loop is busy (or while an
   * earlier group waits for the write lock) are written together, in one transaction. A commit is most
   * of a decision's cost here (BEGIN IMMEDIATE … COMMIT, its pages written to the WAL); an idle service
   * writes each decision alone, one turn of the event loop after it arrives.
   */
  recordDecision(d: ComplianceDecisionInput): Promise<DecisionResult> {
    return this.#decisionGroups.record(d);
  }
  readonly #decisionGroups = new DecisionGroups({ writeGroup: (list) => this.recordDecisions(list) });
  async recordDecisions(list: readonly ComplianceDecisionInput[]): Promise<BatchDecisionResult[]> {
    const results = await this.#write(() => this.#q.decisions.recordMany(list));
    // committed: the dispatcher claims at once
    if (results.some((r) => r.outcome === 'changed')) this.#signal.emit();
    return results;
  }

  async getEvent(customerId: string, eventId: string): Promise<StoredEvent | undefined> {
    return this.#q.events.get(customerId, eventId);
  }
  async listEvents(
    customerId: string,
    q: { limit: number; cursor?: string },
  ): Promise<CursorPage<StoredEvent>> {
    return this.#q.events.list(customerId, q);
  }

  async createEndpoint(e: NewEndpoint): Promise<Endpoint> {
    return this.#q.endpoints.create(e);
  }
  async getEndpoint(customerId: string, endpointId: string): Promise<Endpoint | undefined> {
    return this.#q.endpoints.get(customerId, endpointId);
  }
  async createEndpointWithinLimit(e: NewEndpoint, maxPerPartner: number): Promise<EndpointCreation> {
    return this.#q.endpoints.createWithin(e, maxPerPartner);
  }
  async listEndpoints(customerId: string): Promise<Endpoint[]> {
    return this.#q.endpoints.list(customerId);
  }
  async listEndpointPage(
    customerId: string,
    q: { limit: number; cursor?: string },
  ): Promise<CursorPage<Endpoint>> {
    return this.#q.endpoints.listPage(customerId, q);
  }
  async updateEndpoint(
    customerId: string,
    endpointId: string,
    patch: EndpointPatch,
    at: Date,
  ): Promise<EndpointUpdate> {
    const result = this.#q.endpoints.update(customerId, endpointId, patch, at);
    if (result.outcome === 'updated' && result.backfilled > 0) this.#signal.emit(); // the backlog, queued
    return result;
  }
  async deleteEndpoint(customerId: string, endpointId: string): Promise<boolean> {
    return this.#q.endpoints.delete(customerId, endpointId);
  }
  async rotateEndpointSecret(
    customerId: string,
    endpointId: string,
    secret: string,
    at: Date,
    oldExpiresAt: Date,
  ): Promise<Endpoint | undefined> {
    return this.#q.endpoints.rotateSecret(customerId, endpointId, secret, at, oldExpiresAt);
  }

  async listDeliveries(
    customerId: string,
    endpointId: string,
    q: { limit: number; cursor?: string },
  ): Promise<CursorPage<Delivery>> {
    return this.#q.deliveries.list(customerId, endpointId, q);
  }
  async getDelivery(
    customerId: string,
    endpointId: string,
    deliveryId: string,
  ): Promise<Delivery | undefined> {
    return this.#q.deliveries.get(customerId, endpointId, deliveryId);
  }

  async searchThirdParties(q: ThirdPartySearch): Promise<Page<ThirdPartyCustomer>> {
    return this.#q.dashboard.search(q);
  }
  async searchDeliveries(q: DeliverySearch): Promise<CursorPage<DeliveryOfEvent>> {
    return this.#q.dashboard.searchDeliveries(q);
  }
  async listThirdPartyEvents(
    customerId: string,
    clientCustomerRef: string,
    limit: number,
  ): Promise<EventDeliveries[]> {
    return this.#q.dashboard.timeline(customerId, clientCustomerRef, limit);
  }
  async endpointHealth(customerId: string, since: Date): Promise<EndpointHealth[]> {
    return this.#q.dashboard.health(customerId, since);
  }
  async attemptsPerMinute(q: { customerId?: string; since: Date }): Promise<MinuteOutcomes[]> {
    return this.#q.dashboard.perMinute(q);
  }

  async getIdempotentResponse(customerId: string, key: string): Promise<IdempotentResponse | undefined> {
    const stored = this.#q.idempotency.get(customerId, key);
    return stored && openAnswer(this.#box, customerId, key, stored);
  }
  async saveIdempotentResponse(
    customerId: string,
    key: string,
    r: IdempotentResponse,
    at: Date,
  ): Promise<IdempotentResponse> {
    // stored encrypted (an endpoint's creation answers with its secret), returned decrypted
    const sealed = sealAnswer(this.#box, customerId, key, r);
    return openAnswer(this.#box, customerId, key, this.#q.idempotency.save(customerId, key, sealed, at));
  }
  async pruneIdempotencyKeys(createdBefore: Date, limit: number): Promise<number> {
    return this.#q.idempotency.prune(createdBefore, limit);
  }

  async getNotificationSettings(customerId: string): Promise<NotificationSettings | undefined> {
    return this.#q.alerts.getSettings(customerId);
  }
  async saveNotificationSettings(s: NotificationSettingsInput): Promise<NotificationSettings> {
    return this.#q.alerts.saveSettings(s);
  }
  async observeEndpointAlerts(
    observations: readonly AlertObservation[],
    decide: (view: EndpointAlertView) => AlertDecision,
  ): Promise<NewAlert[]> {
    return this.#q.alerts.observe(observations, decide);
  }
  async alertCandidates(): Promise<string[]> {
    return this.#q.alerts.candidates();
  }
  async unalertedFailures(
    after: { at: Date; deliveryId: string },
    limit: number,
  ): Promise<UnalertedFailure[]> {
    return this.#q.alerts.unalerted(after, limit);
  }
  async alertSweepWatermark(): Promise<Date> {
    return this.#q.alerts.watermark();
  }
  async advanceAlertSweepWatermark(to: Date): Promise<void> {
    this.#q.alerts.advanceWatermark(to);
  }
  async pruneAlerts(createdBefore: Date, limit: number): Promise<number> {
    return this.#q.alerts.prune(createdBefore, limit);
  }
  async claimAlerts(o: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedAlert[]> {
    return this.#q.alerts.claim(o);
  }
  async settleAlert(id: string, outcome: AlertOutcome, at: Date): Promise<void> {
    this.#q.alerts.settle(id, outcome, at);
  }
  async listAlerts(customerId: string, limit: number): Promise<AlertRecord[]> {
    return this.#q.alerts.list(customerId, limit);
  }

  async createDashboardSession(idHash: string, session: DashboardSession): Promise<void> {
    this.#q.sessions.create(idHash, session);
  }
  async getDashboardSession(idHash: string, now: Date): Promise<DashboardSession | undefined> {
    return this.#q.sessions.get(idHash, now);
  }
  async deleteDashboardSession(idHash: string): Promise<boolean> {
    return this.#q.sessions.delete(idHash);
  }
  async deleteDashboardSessions(customerId: string | null): Promise<number> {
    return this.#q.sessions.deleteOf(customerId);
  }
  async pruneDashboardSessions(now: Date, limit: number): Promise<number> {
    return this.#q.sessions.prune(now, limit);
  }

  async createPortalLink(tokenHash: string, link: Omit<PortalLink, 'partnerTokenHash'>): Promise<boolean> {
    return this.#q.portalLinks.create(tokenHash, link);
  }
  async consumePortalLink(tokenHash: string, now: Date): Promise<PortalLink | undefined> {
    return this.#q.portalLinks.consume(tokenHash, now);
  }
  async prunePortalLinks(now: Date, limit: number): Promise<number> {
    return this.#q.portalLinks.prune(now, limit);
  }
}

/**
 * Opens (creating if needed, mode 0600) a SQLite database file as a {@link Store}. The caller creates
 * the parent folder (`openStorage` does), calls `migrate()` and gives `box` its keys (`openStorage`
 * does both).
 *
 * @example
 * const store = openSqliteStore('./data/tpcs.db');
 * await store.migrate();
 */
export function openSqliteStore(
  filename: string,
  options: SqliteStoreOptions = {},
  signal?: QueueSignal,
  box?: SecretBox,
): SqliteStore {
  // 0600 before SQLite creates it 0644 (the -wal and -shm it makes later take the file's mode)
  if (filename !== ':memory:') ensurePrivateFile(filename);
  const db = new Database(filename);
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    if (filename !== ':memory:') {
      db.pragma('journal_mode = WAL');
      restrictSqliteSidecars(filename);
    }
    db.pragma(`synchronous = ${options.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteStore(db, signal, box);
}
