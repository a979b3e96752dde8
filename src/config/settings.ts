/**
 * Every setting of every `tpcs` command, in one table: its flag, its environment variable, the schema
 * that reads its text, its default and which commands use it. `--help` and the README's table are
 * made from it; {@link readSettings} reads a command's settings from it, flag > environment > default.
 */
import type { z } from 'zod';
import { emailFrom, smtpUrl } from '../alerts/config.js';
import { frameAncestors } from '../dashboard/embedding.js';
import { secretsKeyList, secretsKeyText } from '../secrets/values.js';
import { type FlagValue, type OptionSpec, type ReadResult, readOptions } from './read.js';
import {
  adminToken,
  boolean,
  databaseUrl,
  duration,
  httpUrl,
  integer,
  oneOf,
  port,
  retrySchedule,
  secret,
  secretList,
  text,
  trustProxy,
} from './values.js';

/** The commands that have settings, as `tpcs` names them. */
export const COMMANDS = [
  'serve',
  'worker',
  'migrate',
  'receive',
  'trigger',
  'verify',
  'conformance',
  'listen',
  'replay',
  'recover',
  'partners create',
  'tokens reset',
  'decisions',
  'endpoints list',
  'endpoints create',
  'endpoints update',
  'endpoints rotate-secret',
  'secrets rotate-key',
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** For each command using a setting: whether it must be given or may be left to its default. */
export type Uses = { readonly [C in CommandName]?: 'required' | 'optional' };

/** One row of the table. */
export interface Setting extends Omit<OptionSpec, 'required'> {
  readonly env: string;
  readonly commands: Uses;
}

const optionalIn = <const C extends CommandName[]>(...commands: C) =>
  Object.fromEntries(commands.map((c) => [c, 'optional'])) as { readonly [K in C[number]]: 'optional' };
const requiredIn = <const C extends CommandName[]>(...commands: C) =>
  Object.fromEntries(commands.map((c) => [c, 'required'])) as { readonly [K in C[number]]: 'required' };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The settings, in the order `--help` and the README list them. */
export const SETTINGS = {
  // The service (`serve`), and what `worker` and `migrate` share with it.
  port: {
    env: 'PORT',
    flag: '--port <n>',
    description: 'port of tpcs serve; 0 for any free port',
    schema: port,
    default: '8080',
    commands: optionalIn('serve'),
  },
  host: {
    env: 'HOST',
    flag: '--host <address>',
    description:
      'address tpcs serve listens on; every API route needs a token, and 127.0.0.1 keeps the port private',
    schema: text('an address such as 127.0.0.1'),
    default: '0.0.0.0',
    commands: optionalIn('serve'),
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    flag: '--database-url <url>',
    description:
      'where the service keeps its data: sqlite:PATH, sqlite::memory: or postgres://user@host:5432/db',
    schema: databaseUrl,
    default: 'sqlite:./data/tpcs.db',
    commands: optionalIn('serve', 'worker', 'migrate', 'secrets rotate-key'),
  },
  // The key that encrypts endpoint signing secrets at rest (src/secrets).
  secretsKey: {
    env: 'SECRETS_KEY',
    flag: '--secrets-key <key>',
    description:
      'the key endpoint signing secrets are stored encrypted with: 32 bytes, base64 or hex (openssl rand -base64 32); PostgreSQL needs it or --secrets-key-file',
    schema: secretsKeyText,
    defaultLabel: 'SQLite: the file <database>.key, generated 0600 on first start',
    sensitive: true,
    commands: optionalIn('serve', 'worker', 'migrate', 'secrets rotate-key'),
  },
  secretsKeyFile: {
    env: 'SECRETS_KEY_FILE',
    flag: '--secrets-key-file <file>',
    description: 'a file holding that key (a Docker or Kubernetes secret), instead of --secrets-key',
    schema: text('a file path'),
    defaultLabel: 'none',
    commands: optionalIn('serve', 'worker', 'migrate', 'secrets rotate-key'),
  },
  secretsOldKeys: {
    env: 'SECRETS_OLD_KEYS',
    flag: '--secrets-old-keys <keys>',
    description:
      'during a key rotation, the previous keys, comma-separated: secrets are still read with them, never written (tpcs secrets rotate-key)',
    schema: secretsKeyList,
    defaultLabel: 'none',
    sensitive: true,
    commands: optionalIn('serve', 'worker', 'migrate', 'secrets rotate-key'),
  },
  databaseTimeoutMs: {
    env: 'DATABASE_TIMEOUT',
    flag: '--database-timeout <duration>',
    description:
      'how long to wait for the database (a connection, then each statement; SQLite: a lock) before a request answers 503',
    schema: duration('10ms', '10m'),
    default: '5s',
    commands: optionalIn('serve', 'worker'),
  },
  // Bounds on slow clients; a request past one is answered 408 and its connection closed.
  httpHeadersTimeoutMs: {
    env: 'HTTP_HEADERS_TIMEOUT',
    flag: '--headers-timeout <duration>',
    description:
      "how long a client of tpcs serve may take to send a request's headers (a connection that sends nothing is closed after it too)",
    schema: duration('10ms', '10m'),
    default: '10s',
    commands: optionalIn('serve'),
  },
  httpRequestTimeoutMs: {
    env: 'HTTP_REQUEST_TIMEOUT',
    flag: '--request-timeout <duration>',
    description: 'how long a client of tpcs serve may take to send a whole request, headers and body',
    schema: duration('10ms', '1h'),
    default: '30s',
    commands: optionalIn('serve'),
  },
  httpKeepAliveTimeoutMs: {
    env: 'HTTP_KEEP_ALIVE_TIMEOUT',
    flag: '--keep-alive-timeout <duration>',
    description:
      'how long tpcs serve keeps an idle connection open between requests; longer than a load balancer idle timeout',
    schema: duration('10ms', '1h'),
    default: '72s',
    commands: optionalIn('serve'),
  },
  adminToken: {
    env: 'ADMIN_TOKEN',
    flag: '--admin-token <token>',
    description: "the operator's bearer token, 16+ characters without spaces",
    schema: adminToken,
    defaultLabel: 'generated on first start, printed once, stored hashed',
    sensitive: true,
    commands: { ...optionalIn('serve'), ...requiredIn('partners create', 'tokens reset', 'decisions') },
  },
  allowPrivateEndpoints: {
    env: 'ALLOW_PRIVATE_ENDPOINTS',
    flag: '--allow-private-endpoints [bool]',
    description: 'true accepts endpoint URLs on loopback and private networks (development, tests)',
    schema: boolean,
    default: 'false',
    commands: optionalIn('serve', 'worker'),
  },
  // Abuse limits and the dashboard's sessions (`serve`); counted in each process's memory.
  trustProxy: {
    env: 'TRUST_PROXY',
    flag: '--trust-proxy <proxies>',
    description:
      'whose X-Forwarded-For/-Proto to believe (client address, https): false, true, a hop count, or a comma list of addresses and CIDRs',
    schema: trustProxy,
    default: 'false',
    commands: optionalIn('serve'),
  },
  authFailureLimit: {
    env: 'AUTH_FAILURE_LIMIT',
    flag: '--auth-failure-limit <n>',
    description:
      'wrong tokens and failed dashboard log-ins a minute per client address and per token prefix; then 429 until the minute ends',
    schema: integer(1, 1_000_000),
    default: '20',
    commands: optionalIn('serve'),
  },
  partnerRateLimit: {
    env: 'PARTNER_RATE_LIMIT',
    flag: '--partner-rate-limit <n>',
    description: "API requests a minute per partner (its token's); then 429; 0 for no limit",
    schema: integer(0, 100_000_000),
    default: '6000',
    commands: optionalIn('serve'),
  },
  dashboardSessionTtlMs: {
    env: 'DASHBOARD_SESSION_TTL',
    flag: '--dashboard-session-ttl <duration>',
    description: 'how long a dashboard log-in lasts',
    schema: duration('1m', '30d'),
    default: '12h',
    commands: optionalIn('serve'),
  },
  // The partner portal (src/dashboard/portal.ts) and the dashboard in other sites' frames.
  portalLinkTtlMs: {
    env: 'PORTAL_LINK_TTL',
    flag: '--portal-link-ttl <duration>',
    description:
      'how long a partner portal link (POST …/partners/{id}/portal-links) can be opened, once; the session it starts lasts --dashboard-session-ttl',
    schema: duration('1m', '1d'),
    default: '15m',
    commands: optionalIn('serve'),
  },
  publicUrl: {
    env: 'PUBLIC_URL',
    flag: '--public-url <url>',
    description: "the service's base URL as browsers reach it, for portal links (https://tpcs.example)",
    schema: httpUrl,
    defaultLabel: "the request's scheme and host (X-Forwarded-* per --trust-proxy)",
    commands: optionalIn('serve'),
  },
  dashboardFrameAncestors: {
    env: 'DASHBOARD_FRAME_ANCESTORS',
    flag: '--dashboard-frame-ancestors <origins>',
    description:
      'origins that may show the dashboard in an iframe, space- or comma-separated (https://partner.example); the session cookie then becomes SameSite=None; Secure, so it needs HTTPS',
    schema: frameAncestors,
    default: 'none',
    commands: optionalIn('serve'),
  },
  endpointsPerPartner: {
    env: 'ENDPOINTS_PER_PARTNER',
    flag: '--endpoints-per-partner <n>',
    description:
      'webhook endpoints one partner may have; creating one more answers 409 endpoint_limit_reached',
    schema: integer(1, 10_000),
    default: '20',
    commands: optionalIn('serve'),
  },
  eventStreamsPerPartner: {
    env: 'EVENT_STREAMS_PER_PARTNER',
    flag: '--event-streams-per-partner <n>',
    description:
      'event streams (GET …/events/stream, tpcs listen) one partner may hold open at once; then 429',
    schema: integer(1, 10_000),
    default: '5',
    commands: optionalIn('serve'),
  },
  eventStreamsMax: {
    env: 'EVENT_STREAMS_MAX',
    flag: '--event-streams-max <n>',
    description: 'event streams open at once in this process, all partners together; then 503',
    schema: integer(1, 1_000_000),
    default: '1000',
    commands: optionalIn('serve'),
  },
  eventStreamDrainTimeoutMs: {
    env: 'EVENT_STREAM_DRAIN_TIMEOUT',
    flag: '--event-stream-drain-timeout <duration>',
    description:
      'an event stream whose client reads nothing for this long, with data waiting, is disconnected (it resumes with Last-Event-ID)',
    schema: duration('1s', '1h'),
    default: '30s',
    commands: optionalIn('serve'),
  },
  // Delivery: the dispatchers of `serve` and `worker`.
  retryScheduleMs: {
    env: 'RETRY_SCHEDULE',
    flag: '--retry-schedule <list>',
    description:
      'delays before each retry (the first attempt goes at once); the default spans about three days',
    schema: retrySchedule,
    default: '5s,5m,30m,2h,5h,10h,10h,10h,10h,10h,10h',
    commands: optionalIn('serve', 'worker'),
  },
  retryJitter: {
    env: 'RETRY_JITTER',
    flag: '--retry-jitter <mode>',
    description:
      'full waits a random part of each delay, so that a recovering endpoint is not hit all at once; none waits exactly',
    schema: oneOf(['full', 'none']),
    default: 'full',
    commands: optionalIn('serve', 'worker'),
  },
  deliveryTimeoutMs: {
    env: 'DELIVERY_TIMEOUT',
    flag: '--delivery-timeout <duration>',
    description: "how long an attempt waits for the endpoint's answer",
    schema: duration('1ms', '10m'),
    default: '15s',
    commands: optionalIn('serve', 'worker'),
  },
  deliveryConcurrency: {
    env: 'DELIVERY_CONCURRENCY',
    flag: '--delivery-concurrency <n>',
    description: 'attempts in flight per dispatcher',
    schema: integer(1, 10_000),
    default: '256',
    commands: optionalIn('serve', 'worker'),
  },
  deliveryPerEndpoint: {
    env: 'DELIVERY_PER_ENDPOINT',
    flag: '--delivery-per-endpoint <n>',
    description: 'attempts in flight per endpoint, all processes together',
    schema: integer(1, 1000),
    default: '8',
    commands: optionalIn('serve', 'worker'),
  },
  deliveryPerPartner: {
    env: 'DELIVERY_PER_PARTNER',
    flag: '--delivery-per-partner <n>',
    description:
      "attempts in flight per partner, all its endpoints and all processes together, so one partner's slow endpoints cannot hold every slot",
    schema: integer(1, 100_000),
    defaultLabel: 'a quarter of --delivery-concurrency, at least --delivery-per-endpoint',
    commands: optionalIn('serve', 'worker'),
  },
  deliveryLeaseMs: {
    env: 'DELIVERY_LEASE',
    flag: '--delivery-lease <duration>',
    description: 'how long a claimed delivery stays with its dispatcher before another may take it',
    schema: duration('1ms', '1d'),
    defaultLabel: '2 × timeout + 5s',
    commands: optionalIn('serve', 'worker'),
  },
  deliveryPollMs: {
    env: 'DELIVERY_POLL',
    flag: '--delivery-poll <duration>',
    description: 'how often an idle dispatcher looks for deliveries due',
    schema: duration('1ms', '1m'),
    default: '500ms',
    commands: optionalIn('serve', 'worker'),
  },
  endpointFailureWindowMs: {
    env: 'ENDPOINT_FAILURE_WINDOW',
    flag: '--endpoint-failure-window <duration>',
    description: 'an endpoint failing every attempt for this long is disabled',
    schema: duration('1m', '365d'),
    default: '5d',
    commands: optionalIn('serve', 'worker'),
  },
  smtpUrl: {
    env: 'SMTP_URL',
    flag: '--smtp-url <url>',
    description:
      'the SMTP server failure alerts are emailed through (smtp://user:pass@host:587 or smtps://…); without it, email alerts are skipped',
    schema: smtpUrl,
    defaultLabel: 'none',
    sensitive: true,
    commands: optionalIn('serve', 'worker'),
  },
  alertEmailFrom: {
    env: 'ALERT_EMAIL_FROM',
    flag: '--alert-email-from <address>',
    description: 'the From of failure alert emails',
    schema: emailFrom,
    default: 'tpcs <alerts@localhost>',
    commands: optionalIn('serve', 'worker'),
  },
  alertRetentionMs: {
    env: 'ALERT_RETENTION',
    flag: '--alert-retention <duration>',
    description:
      'how long failure alerts are kept (the dashboard lists them); tpcs serve deletes older ones hourly',
    schema: duration('1d', '3650d'),
    default: '30d',
    commands: optionalIn('serve'),
  },
  dispatchers: {
    env: 'DELIVERY_DISPATCHERS',
    flag: '--dispatchers <n>',
    description: 'dispatchers beside the API; 0 runs the API only, with tpcs worker processes delivering',
    schema: integer(0, 64),
    default: '1',
    commands: optionalIn('serve'),
  },
  // Not DELIVERY_DISPATCHERS: an environment shared with an API-only `serve` (0) must not stop workers.
  workerDispatchers: {
    env: 'WORKER_DISPATCHERS',
    flag: '--dispatchers <n>',
    description: 'dispatchers (claim loops) in this worker process',
    schema: integer(1, 64),
    default: '1',
    commands: optionalIn('worker'),
  },

  // The ready-made receiver (`receive`).
  receiverPort: {
    env: 'RECEIVER_PORT',
    flag: '-p, --port <port>',
    description: 'port of tpcs receive; 0 for any free port',
    schema: port,
    default: '3000',
    commands: optionalIn('receive'),
  },
  receiverHost: {
    env: 'RECEIVER_HOST',
    flag: '--host <host>',
    description: 'address tpcs receive listens on',
    schema: text('an address such as 127.0.0.1'),
    default: '127.0.0.1',
    commands: optionalIn('receive'),
  },
  webhookSecrets: {
    env: 'WEBHOOK_SECRET',
    flag: '--secret <whsec>',
    description:
      'the secrets signatures are checked against; repeat the flag (or comma-separate) during a rotation',
    schema: secretList,
    repeatable: true,
    defaultLabel: 'none: tpcs receive refuses to start without --insecure-skip-verify',
    sensitive: true,
    commands: { ...optionalIn('receive'), ...requiredIn('verify') },
  },
  insecureSkipVerify: {
    env: 'INSECURE_SKIP_VERIFY',
    flag: '--insecure-skip-verify [bool]',
    description:
      'true accepts events without checking signatures, so anyone who can reach the port can forge them (local development only; not with --secret)',
    schema: boolean,
    default: 'false',
    commands: optionalIn('receive'),
  },
  receiverDb: {
    env: 'RECEIVER_DB',
    flag: '--db <file>',
    description: "the receiver's SQLite inbox and status file",
    schema: text('a file path'),
    default: './data/receiver.db',
    commands: optionalIn('receive'),
  },
  receiverMaxBodyBytes: {
    env: 'RECEIVER_MAX_BODY_BYTES',
    flag: '--max-body-bytes <bytes>',
    description: 'larger bodies are answered 413',
    schema: integer(1, 64 * 1024 * 1024),
    default: String(256 * 1024),
    commands: optionalIn('receive'),
  },
  receiverFutureTolerance: {
    env: 'RECEIVER_FUTURE_TOLERANCE',
    flag: '--future-tolerance <seconds>',
    description: 'events dated further ahead of this clock are answered 400 and not recorded',
    schema: integer(0, 86_400),
    default: '300',
    commands: optionalIn('receive'),
  },
  receiverSynchronous: {
    env: 'RECEIVER_SYNCHRONOUS',
    flag: '--synchronous <mode>',
    description:
      'normal: every 200 survives a crash of this process; full: also waits for an fsync, so it survives power loss',
    schema: oneOf(['normal', 'full']),
    default: 'normal',
    commands: optionalIn('receive'),
  },

  // Every process that logs.
  logLevel: {
    env: 'LOG_LEVEL',
    flag: '--log-level <level>',
    description: `${LOG_LEVELS.join(', ')} (tpcs receive logs a line per event at debug)`,
    schema: oneOf(LOG_LEVELS),
    default: 'info',
    commands: optionalIn('serve', 'worker', 'receive'),
  },

  // The tools that sign events or call the service's API.
  signingSecret: {
    env: 'WEBHOOK_SECRET',
    flag: '--secret <whsec>',
    description: "the endpoint's signing secret (listen: a new one, printed at start, when unset)",
    schema: secret,
    sensitive: true,
    commands: { ...requiredIn('trigger', 'conformance'), ...optionalIn('listen') },
  },
  api: {
    env: 'TPCS_API',
    flag: '--api <url>',
    description: 'base URL of the running tpcs service',
    schema: httpUrl,
    default: 'http://127.0.0.1:8080',
    commands: optionalIn(
      'listen',
      'replay',
      'recover',
      'endpoints list',
      'endpoints create',
      'endpoints update',
      'endpoints rotate-secret',
      'partners create',
      'tokens reset',
      'decisions',
    ),
  },
  token: {
    env: 'TPCS_TOKEN',
    flag: '--token <token>',
    description: "the partner's bearer token (tpcs_pk_…; the admin token also works)",
    schema: text('a bearer token'),
    commands: requiredIn(
      'listen',
      'replay',
      'recover',
      'endpoints list',
      'endpoints create',
      'endpoints update',
      'endpoints rotate-secret',
    ),
  },
  customerId: {
    env: 'TPCS_CUSTOMER_ID',
    flag: '--customer-id <id>',
    description: "the partner's customer_id",
    schema: text('a customer_id'),
    commands: requiredIn(
      'listen',
      'replay',
      'recover',
      'endpoints list',
      'endpoints create',
      'endpoints update',
      'endpoints rotate-secret',
    ),
  },
} as const satisfies Record<string, Setting>;

type Table = typeof SETTINGS;

/** The names of the settings `C` uses. */
export type SettingName<C extends CommandName> = {
  [K in keyof Table]: C extends keyof Table[K]['commands'] ? K : never;
}[keyof Table];

/** The settings of command `C`, read: each value typed by its schema; undefined only when it may be unset. */
export type SettingValues<C extends CommandName> = {
  -readonly [K in SettingName<C>]: Table[K] extends { default: string }
    ? z.output<Table[K]['schema']>
    : Table[K]['commands'] extends { readonly [P in C]: 'required' }
      ? z.output<Table[K]['schema']>
      : z.output<Table[K]['schema']> | undefined;
};

/**
 * The options of command `C`, as {@link readOptions} reads them (`required` as the command needs).
 *
 * @example
 * Object.keys(settingsOf('migrate')); // ['databaseUrl']
 */
export function settingsOf(command: CommandName): Record<string, OptionSpec> {
  const specs: Record<string, OptionSpec> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [string, Setting][]) {
    const use = setting.commands[command];
    if (use !== undefined) specs[name] = { ...setting, required: use === 'required' };
  }
  return specs;
}

/**
 * Reads command `C`'s settings: flag > environment > default, every problem at once.
 *
 * @example
 * const result = readSettings('worker', { workerDispatchers: 'abc' }, process.env);
 * // { ok: false, problems: ["--dispatchers 'abc' is invalid (env WORKER_DISPATCHERS): expected an integer from 1 to 64"] }
 */
export function readSettings<C extends CommandName>(
  command: C,
  flags: Readonly<Record<string, FlagValue>>,
  env: Readonly<Record<string, string | undefined>>,
): ReadResult<SettingValues<C>> {
  return readOptions(settingsOf(command), flags, env) as ReadResult<SettingValues<C>>;
}
