import pg from 'pg';
import { openAnswer, SecretBox, sealAnswer } from '../../secrets/box.js';
import { DecisionGroups } from '../decision-groups.js';
import { UnsupportedDatabaseUrlError } from '../errors.js';
import { postgresWriteProbe } from '../readiness.js';
import { QueueSignal, recordedEvent } from '../signal.js';
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
import {
  advanceAlertSweepWatermark,
  alertCandidates,
  alertSweepWatermark,
  claimAlerts,
  getNotificationSettings,
  listAlerts,
  observeEndpointAlerts,
  pruneAlerts,
  saveNotificationSettings,
  settleAlert,
  unalertedFailures,
} from './alerts.js';
import {
  attemptsPerMinute,
  endpointHealth,
  listThirdPartyEvents,
  searchDeliveries,
  searchThirdParties,
} from './dashboard.js';
import { poolTimeouts } from './db.js';
import { EventStamps, recordDecision, recordDecisionGroup, recordDecisions } from './decisions.js';
import { getDelivery, listDeliveries } from './deliveries.js';
import {
  createEndpoint,
  createEndpointWithinLimit,
  deleteEndpoint,
  getEndpoint,
  listEndpointPage,
  listEndpoints,
  rotateEndpointSecret,
  updateEndpoint,
} from './endpoints.js';
import { getEvent, listEvents } from './events.js';
import { getIdempotentResponse, pruneIdempotencyKeys, saveIdempotentResponse } from './idempotency.js';
import { migrate, quoteIdent } from './migrations.js';
import { DeliveryNotifier } from './notify.js';
import {
  createPartner,
  findPartnerByTokenHash,
  getPartner,
  listPartnerPage,
  listPartners,
  setPartnerToken,
} from './partners.js';
import { consumePortalLink, createPortalLink, prunePortalLinks } from './portal-links.js';
import {
  createDashboardSession,
  deleteDashboardSession,
  deleteDashboardSessions,
  getDashboardSession,
  pruneDashboardSessions,
} from './sessions.js';
import { getSetting, setSettingIfAbsent } from './settings.js';
import { createThirdParty, getThirdParty, listThirdParties, listThirdPartyPage } from './third-parties.js';

/** Single decisions written alone at once (one statement each); more wait and are written as a group. */
const ALONE_DECISIONS = 2;

/**
 * A `postgres://` URL as a pool configuration. `?schema=NAME` (ours, not libpq's) becomes the
 * connection's `search_path`; `?options=` is kept and combined with it. `?max=N` sizes the pool.
 *
 * @example
 * parsePostgresUrl('postgres://app@db/tpcs?schema=tenant_a').schema // 'tenant_a'
 */
export function parsePostgresUrl(url: string): { config: pg.PoolConfig; schema: string | undefined } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UnsupportedDatabaseUrlError('DATABASE_URL is not a valid postgres:// URL');
  }
  const schema = u.searchParams.get('schema') ?? undefined;
  const options = u.searchParams.get('options');
  const max = u.searchParams.get('max');
  for (const name of ['schema', 'options', 'max']) u.searchParams.delete(name);
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new UnsupportedDatabaseUrlError(
      `DATABASE_URL schema=${JSON.stringify(schema)}: expected an identifier`,
    );
  }
  const config: pg.PoolConfig = { connectionString: u.toString() };
  const combined = [options, schema === undefined ? null : `-c search_path=${schema}`]
    .filter(Boolean)
    .join(' ');
  if (combined) config.options = combined;
  if (max !== null) config.max = Math.max(1, Number.parseInt(max, 10) || 10);
  return { config, schema };
}

/**
 * The production store: a node-postgres pool, parameterised named statements, and one transaction on
 * one client for every multi-statement operation. Needs PostgreSQL 13 or later (gen_random_uuid).
 */
export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #schema: string | undefined;
  readonly #notifier: DeliveryNotifier;
  readonly #signal: QueueSignal;
  readonly #stopNotifying: () => void;
  readonly #migrationConfig: pg.PoolConfig | undefined;
  readonly #box: SecretBox;
  readonly #ping: () => Promise<void>;

  /**
   * Whatever fires `signal` (this store's decisions, the queue's retries, recovers and releases) is
   * followed by one coalesced NOTIFY for the other processes, sent on this store's pool.
   * `migrationConfig`, when given, is where `migrate()` connects instead of the pool: the pool's
   * settings without its timeouts, since a migration may rightly take minutes (an index on a big
   * table) or wait that long for another process's migration. `box` encrypts endpoint secrets and
   * idempotent answers (without keys, it throws when used).
   */
  constructor(
    pool: pg.Pool,
    schema?: string,
    signal = new QueueSignal(),
    options: { migrationConfig?: pg.PoolConfig; box?: SecretBox } = {},
  ) {
    this.#pool = pool;
    this.#ping = postgresWriteProbe(pool);
    this.#schema = schema;
    this.#migrationConfig = options.migrationConfig;
    this.#box = options.box ?? new SecretBox();
    this.#notifier = new DeliveryNotifier(pool, signal.source);
    this.#signal = signal;
    this.#stopNotifying = signal.on(() => this.#notifier.request());
  }

  /** The pool, for code that shares this store's connections (benchmarks, the dispatcher). */
  get pool(): pg.Pool {
    return this.#pool;
  }

  async migrate(onProgress?: MigrationProgress): Promise<string[]> {
    if (this.#migrationConfig === undefined) return migrate(this.#pool, undefined, this.#schema, onProgress);
    const pool = new pg.Pool({ ...this.#migrationConfig, max: 1 });
    pool.on('error', () => {});
    try {
      return await migrate(pool, undefined, this.#schema, onProgress);
    } finally {
      await pool.end();
    }
  }
  async close(): Promise<void> {
    this.#stopNotifying();
    await this.#notifier.idle();
    await this.#pool.end();
  }
  ping(): Promise<void> {
    return this.#ping();
  }

  getSetting(key: string): Promise<string | undefined> {
    return getSetting(this.#pool, key);
  }
  setSettingIfAbsent(key: string, value: string): Promise<boolean> {
    return setSettingIfAbsent(this.#pool, key, value);
  }

  createPartner(p: {
    customerId: string;
    name: string | null;
    tokenHash: string;
    createdAt: Date;
  }): Promise<'created' | 'exists'> {
    return createPartner(this.#pool, p);
  }
  findPartnerByTokenHash(tokenHash: string): Promise<Partner | undefined> {
    return findPartnerByTokenHash(this.#pool, tokenHash);
  }
  getPartner(customerId: string): Promise<Partner | undefined> {
    return getPartner(this.#pool, customerId);
  }
  listPartners(): Promise<Partner[]> {
    return listPartners(this.#pool);
  }
  listPartnerPage(q: { limit: number; cursor?: string }): Promise<CursorPage<PartnerSummary>> {
    return listPartnerPage(this.#pool, q);
  }
  setPartnerToken(customerId: string, tokenHash: string): Promise<boolean> {
    return setPartnerToken(this.#pool, customerId, tokenHash);
  }

  createThirdParty(t: NewThirdPartyCustomer): Promise<'created' | 'exists'> {
    return createThirdParty(this.#pool, t);
  }
  getThirdParty(customerId: string, clientCustomerRef: string): Promise<ThirdPartyCustomer | undefined> {
    return getThirdParty(this.#pool, customerId, clientCustomerRef);
  }
  listThirdParties(
    customerId: string,
    q: { status?: ThirdPartyStatus; limit: number; offset: number },
  ): Promise<Page<ThirdPartyCustomer> & { nextCursor: string | null }> {
    return listThirdParties(this.#pool, customerId, q);
  }
  listThirdPartyPage(
    customerId: string,
    q: { status?: ThirdPartyStatus; limit: number; cursor?: string },
  ): Promise<CursorPage<ThirdPartyCustomer>> {
    return listThirdPartyPage(this.#pool, customerId, q);
  }
  /**
   * Alone (one statement, decisions.ts) while few are in flight; beyond {@link ALONE_DECISIONS} at once,
   * grouped (decision-groups.ts): the decisions that arrive meanwhile are written as one batch, each
   * with its own result. A statement's fixed costs (executor start, commit, WAL flush, the round trip
   * and its wake-ups) are most of a decision's cost on both sides of the socket; a group pays them once.
   */
  recordDecision(d: ComplianceDecisionInput): Promise<DecisionResult> {
    return this.#decisionGroups.record(d);
  }
  /** The last event_timestamp this process wrote per third party: where a decision's event is first built. */
  readonly #stamps = new EventStamps();
  readonly #decisionGroups = new DecisionGroups({
    writeOne: async (d) => {
      const result = await recordDecision(this.#pool, d, this.#stamps);
      // After the commit: this process's listeners at once, other processes by the NOTIFY that follows.
      if (recordedEvent(result)) this.#signal.emit();
      return result;
    },
    writeGroup: async (list) => {
      const results = await recordDecisionGroup(this.#pool, list, this.#stamps);
      if (results.some((r) => r.outcome === 'changed')) this.#signal.emit(); // after the commits, as above
      return results;
    },
    alone: ALONE_DECISIONS,
  });
  async recordDecisions(list: readonly ComplianceDecisionInput[]): Promise<BatchDecisionResult[]> {
    const results = await recordDecisions(this.#pool, list, this.#stamps);
    if (results.some((r) => r.outcome === 'changed')) this.#signal.emit(); // after the commit, as above
    return results;
  }

  getEvent(customerId: string, eventId: string): Promise<StoredEvent | undefined> {
    return getEvent(this.#pool, customerId, eventId);
  }
  listEvents(customerId: string, q: { limit: number; cursor?: string }): Promise<CursorPage<StoredEvent>> {
    return listEvents(this.#pool, customerId, q);
  }

  createEndpoint(e: NewEndpoint): Promise<Endpoint> {
    return createEndpoint(this.#pool, this.#box, e);
  }
  getEndpoint(customerId: string, endpointId: string): Promise<Endpoint | undefined> {
    return getEndpoint(this.#pool, this.#box, customerId, endpointId);
  }
  createEndpointWithinLimit(e: NewEndpoint, maxPerPartner: number): Promise<EndpointCreation> {
    return createEndpointWithinLimit(this.#pool, this.#box, e, maxPerPartner);
  }
  listEndpoints(customerId: string): Promise<Endpoint[]> {
    return listEndpoints(this.#pool, this.#box, customerId);
  }
  listEndpointPage(customerId: string, q: { limit: number; cursor?: string }): Promise<CursorPage<Endpoint>> {
    return listEndpointPage(this.#pool, this.#box, customerId, q);
  }
  async updateEndpoint(
    customerId: string,
    endpointId: string,
    patch: EndpointPatch,
    at: Date,
  ): Promise<EndpointUpdate> {
    const result = await updateEndpoint(this.#pool, this.#box, customerId, endpointId, patch, at);
    // after the commit, as for a decision: the backlog's deliveries are queued
    if (result.outcome === 'updated' && result.backfilled > 0) this.#signal.emit();
    return result;
  }
  deleteEndpoint(customerId: string, endpointId: string): Promise<boolean> {
    return deleteEndpoint(this.#pool, customerId, endpointId);
  }
  rotateEndpointSecret(
    customerId: string,
    endpointId: string,
    secret: string,
    at: Date,
    oldExpiresAt: Date,
  ): Promise<Endpoint | undefined> {
    return rotateEndpointSecret(this.#pool, this.#box, customerId, endpointId, secret, at, oldExpiresAt);
  }

  listDeliveries(
    customerId: string,
    endpointId: string,
    q: { limit: number; cursor?: string },
  ): Promise<CursorPage<Delivery>> {
    return listDeliveries(this.#pool, customerId, endpointId, q);
  }
  getDelivery(customerId: string, endpointId: string, deliveryId: string): Promise<Delivery | undefined> {
    return getDelivery(this.#pool, customerId, endpointId, deliveryId);
  }

  searchThirdParties(q: ThirdPartySearch): Promise<Page<ThirdPartyCustomer>> {
    return searchThirdParties(this.#pool, q);
  }
  searchDeliveries(q: DeliverySearch): Promise<CursorPage<DeliveryOfEvent>> {
    return searchDeliveries(this.#pool, q);
  }
  listThirdPartyEvents(
    customerId: string,
    clientCustomerRef: string,
    limit: number,
  ): Promise<EventDeliveries[]> {
    return listThirdPartyEvents(this.#pool, customerId, clientCustomerRef, limit);
  }
  endpointHealth(customerId: string, since: Date): Promise<EndpointHealth[]> {
    return endpointHealth(this.#pool, customerId, since);
  }
  attemptsPerMinute(q: { customerId?: string; since: Date }): Promise<MinuteOutcomes[]> {
    return attemptsPerMinute(this.#pool, q);
  }

  async getIdempotentResponse(customerId: string, key: string): Promise<IdempotentResponse | undefined> {
    const stored = await getIdempotentResponse(this.#pool, customerId, key);
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
    return openAnswer(
      this.#box,
      customerId,
      key,
      await saveIdempotentResponse(this.#pool, customerId, key, sealed, at),
    );
  }
  pruneIdempotencyKeys(createdBefore: Date, limit: number): Promise<number> {
    return pruneIdempotencyKeys(this.#pool, createdBefore, limit);
  }

  getNotificationSettings(customerId: string): Promise<NotificationSettings | undefined> {
    return getNotificationSettings(this.#pool, this.#box, customerId);
  }
  saveNotificationSettings(s: NotificationSettingsInput): Promise<NotificationSettings> {
    return saveNotificationSettings(this.#pool, this.#box, s);
  }
  observeEndpointAlerts(
    observations: readonly AlertObservation[],
    decide: (view: EndpointAlertView) => AlertDecision,
  ): Promise<NewAlert[]> {
    return observeEndpointAlerts(this.#pool, this.#box, observations, decide);
  }
  alertCandidates(): Promise<string[]> {
    return alertCandidates(this.#pool);
  }
  unalertedFailures(after: { at: Date; deliveryId: string }, limit: number): Promise<UnalertedFailure[]> {
    return unalertedFailures(this.#pool, after, limit);
  }
  alertSweepWatermark(): Promise<Date> {
    return alertSweepWatermark(this.#pool);
  }
  advanceAlertSweepWatermark(to: Date): Promise<void> {
    return advanceAlertSweepWatermark(this.#pool, to);
  }
  pruneAlerts(createdBefore: Date, limit: number): Promise<number> {
    return pruneAlerts(this.#pool, createdBefore, limit);
  }
  claimAlerts(o: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedAlert[]> {
    return claimAlerts(this.#pool, this.#box, o);
  }
  settleAlert(id: string, outcome: AlertOutcome, at: Date): Promise<void> {
    return settleAlert(this.#pool, id, outcome, at);
  }
  listAlerts(customerId: string, limit: number): Promise<AlertRecord[]> {
    return listAlerts(this.#pool, customerId, limit);
  }

  createDashboardSession(idHash: string, session: DashboardSession): Promise<void> {
    return createDashboardSession(this.#pool, idHash, session);
  }
  getDashboardSession(idHash: string, now: Date): Promise<DashboardSession | undefined> {
    return getDashboardSession(this.#pool, idHash, now);
  }
  deleteDashboardSession(idHash: string): Promise<boolean> {
    return deleteDashboardSession(this.#pool, idHash);
  }
  deleteDashboardSessions(customerId: string | null): Promise<number> {
    return deleteDashboardSessions(this.#pool, customerId);
  }
  pruneDashboardSessions(now: Date, limit: number): Promise<number> {
    return pruneDashboardSessions(this.#pool, now, limit);
  }

  createPortalLink(tokenHash: string, link: Omit<PortalLink, 'partnerTokenHash'>): Promise<boolean> {
    return createPortalLink(this.#pool, tokenHash, link);
  }
  consumePortalLink(tokenHash: string, now: Date): Promise<PortalLink | undefined> {
    return consumePortalLink(this.#pool, tokenHash, now);
  }
  prunePortalLinks(now: Date, limit: number): Promise<number> {
    return prunePortalLinks(this.#pool, now, limit);
  }
}

/** How long the service's connections wait on the server; see {@link poolTimeouts}. */
export interface PostgresTimeouts {
  /** Bound on getting a connection and on each statement (`DATABASE_TIMEOUT`); absent: no bound. */
  timeoutMs?: number | undefined;
}

/**
 * Opens a pool on a `postgres://` URL (see {@link parsePostgresUrl}) and checks the server answers, so
 * a wrong URL fails at start rather than at the first request. Does not migrate; `migrate()` connects
 * without the timeouts.
 *
 * @example
 * const store = await createPostgresStore('postgres://app@127.0.0.1:5432/tpcs', undefined, { timeoutMs: 5000 });
 * await store.migrate();
 */
export async function createPostgresStore(
  url: string,
  signal?: QueueSignal,
  { timeoutMs, box }: PostgresTimeouts & { box?: SecretBox } = {},
): Promise<PostgresStore> {
  const { config, schema } = parsePostgresUrl(url);
  if (schema !== undefined) quoteIdent(schema);
  const bounded = timeoutMs !== undefined;
  const pool = new pg.Pool(bounded ? { ...config, ...poolTimeouts(timeoutMs) } : config);
  // an idle client's connection dropped (server restart): the pool discards it, and the next query
  // reports the problem to its caller; without a listener the error would end the process
  pool.on('error', () => {});
  const store = new PostgresStore(pool, schema, signal, {
    ...(bounded ? { migrationConfig: config } : {}),
    ...(box ? { box } : {}),
  });
  try {
    await pool.query('SELECT 1'); // a wrong URL or a server down fails here, at start
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return store;
}
