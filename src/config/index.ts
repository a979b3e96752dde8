/**
 * Configuration: one table of settings ({@link SETTINGS}), read one way (flag > environment >
 * default, through each setting's zod schema), and the service's {@link Config} made from it. A
 * process refuses to start on any invalid value: a typo in an operator's setting must not silently
 * become a default.
 */
import type { PortalSettings } from '../dashboard/portal.js';
import type { TrustProxy } from '../http/app.js';
import type { RateLimitSettings } from '../http/rate-limit.js';
import type { EventStreamLimits } from '../http/routes/event-stream.js';
import type { DeliveryTuning } from '../webhooks/dispatcher/service.js';
import { type LogLevel, readSettings, type SettingValues } from './settings.js';

export { type FlagValue, longFlag, type OptionSpec, type OptionValues, readOptions } from './read.js';
export {
  COMMANDS,
  type CommandName,
  LOG_LEVELS,
  type LogLevel,
  readSettings,
  SETTINGS,
  type Setting,
  type SettingName,
  type SettingValues,
  settingsOf,
} from './settings.js';

/** The service's settings (`tpcs serve`), read and checked. */
export interface Config {
  /** `PORT`, default 8080. */
  port: number;
  /** `HOST`, default `0.0.0.0`: reachable from outside a container, where the service usually runs. */
  host: string;
  /** `DATABASE_URL`, default `sqlite:./data/tpcs.db`. */
  databaseUrl: string;
  /** `ADMIN_TOKEN`; when absent a token is generated on first start, stored hashed and printed once. */
  adminToken: string | undefined;
  /** `ALLOW_PRIVATE_ENDPOINTS=true`: accept endpoint URLs on loopback/private addresses. */
  allowPrivateEndpoints: boolean;
  /** `RETRY_SCHEDULE` (`1s,2s,5m,1h`) in milliseconds: the delay before each retry. */
  retryScheduleMs: readonly number[];
  /** `LOG_LEVEL`, default `info`. */
  logLevel: LogLevel;
  /** The dispatcher beside the API: `DELIVERY_*`, `RETRY_JITTER`, `ENDPOINT_FAILURE_WINDOW`. */
  delivery: DeliveryTuning;
  /** `TRUST_PROXY`, default false: whose `X-Forwarded-For`/`-Proto` set the client address and scheme. */
  trustProxy: TrustProxy;
  /** `AUTH_FAILURE_LIMIT` (20) and `PARTNER_RATE_LIMIT` (6000), a minute each, in this process. */
  rateLimits: RateLimitSettings;
  /** `DASHBOARD_SESSION_TTL`, default 12 hours. */
  dashboardSessionTtlMs: number;
  /** `ENDPOINTS_PER_PARTNER`, default 20: creating one more answers 409. */
  endpointsPerPartner: number;
  /** `PORTAL_LINK_TTL` (15 minutes), `PUBLIC_URL` (unset), `DASHBOARD_FRAME_ANCESTORS` (none). */
  portal: PortalSettings;
  /** `EVENT_STREAMS_PER_PARTNER` (5), `EVENT_STREAMS_MAX` (1000), `EVENT_STREAM_DRAIN_TIMEOUT` (30 s). */
  eventStreams: EventStreamLimits;
  /** `ALERT_RETENTION`, default 30 days: older failure alerts are pruned. */
  alertRetentionMs: number;
}

/** The configuration, or every problem with it (one line each). */
export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/**
 * Reads the service's configuration: `flags` (by setting name, as given on the command line) over
 * `env` over the defaults.
 *
 * @example
 * const result = loadConfig(process.env);
 * if (!result.ok) { console.error(result.problems.join('\n')); process.exit(2); }
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  flags: Parameters<typeof readSettings>[1] = {},
): ConfigResult {
  const read = readSettings('serve', flags, env);
  return read.ok ? { ok: true, config: serviceConfig(read.values) } : read;
}

/**
 * The service's configuration from `serve`'s settings, as read by the CLI.
 *
 * @example
 * const server = await startServer(serviceConfig(settings));
 */
export function serviceConfig(s: SettingValues<'serve'>): Config {
  return {
    port: s.port,
    host: s.host,
    databaseUrl: s.databaseUrl,
    adminToken: s.adminToken,
    allowPrivateEndpoints: s.allowPrivateEndpoints,
    retryScheduleMs: s.retryScheduleMs,
    logLevel: s.logLevel,
    delivery: { ...deliveryTuning(s), dispatchers: s.dispatchers },
    trustProxy: s.trustProxy,
    rateLimits: { authFailures: s.authFailureLimit, partnerRequests: s.partnerRateLimit },
    dashboardSessionTtlMs: s.dashboardSessionTtlMs,
    endpointsPerPartner: s.endpointsPerPartner,
    portal: {
      linkTtlMs: s.portalLinkTtlMs,
      publicUrl: s.publicUrl,
      frameAncestors: s.dashboardFrameAncestors,
    },
    eventStreams: {
      perPartner: s.eventStreamsPerPartner,
      total: s.eventStreamsMax,
      drainTimeoutMs: s.eventStreamDrainTimeoutMs,
    },
    alertRetentionMs: s.alertRetentionMs,
  };
}

/**
 * The dispatcher's tuning from the delivery settings `serve` and `worker` share.
 *
 * @example
 * const tuning = deliveryTuning(settings); // { timeoutMs: 15000, concurrency: 256, … }
 */
export function deliveryTuning(s: SettingValues<'serve'> | SettingValues<'worker'>): DeliveryTuning {
  return {
    timeoutMs: s.deliveryTimeoutMs,
    concurrency: s.deliveryConcurrency,
    perEndpoint: s.deliveryPerEndpoint,
    ...(s.deliveryPerPartner === undefined ? {} : { perPartner: s.deliveryPerPartner }),
    ...(s.deliveryLeaseMs === undefined ? {} : { leaseMs: s.deliveryLeaseMs }),
    pollIntervalMs: s.deliveryPollMs,
    failureWindowMs: s.endpointFailureWindowMs,
    jitter: s.retryJitter,
    ...(s.smtpUrl === undefined ? {} : { smtpUrl: s.smtpUrl }),
    alertEmailFrom: s.alertEmailFrom,
  };
}
