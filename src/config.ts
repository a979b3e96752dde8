/**
 * The service's configuration, read from the environment once at start. Every problem is reported
 * at once, and the process refuses to start on any of them: a typo in an operator's setting must not
 * silently become a default.
 */
import { DEFAULT_RETRY_SCHEDULE_MS, parseRetrySchedule } from './webhooks/dispatcher/retry-policy.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The service's settings, with defaults applied. */
export interface Config {
  /** `PORT`, default 8080. */
  port: number;
  /**
   * `HOST`, default `0.0.0.0`: reachable from outside a container, where the service usually runs.
   * Every API route needs a token; set `HOST=127.0.0.1` to keep a development machine's port private.
   */
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
}

export const DEFAULTS = {
  port: 8080,
  host: '0.0.0.0',
  databaseUrl: 'sqlite:./data/tpcs.db',
  logLevel: 'info' as LogLevel,
};

/**
 * The settings the CLI mirrors as flags (`tpcs serve --port 9090` sets `PORT`), in the order `--help`
 * lists them. A flag wins over its environment variable, which wins over the default; the values are
 * then checked together by {@link loadConfig}, so every problem is still reported at once.
 */
export const CONFIG_SETTINGS = [
  {
    env: 'PORT',
    flags: '--port <n>',
    description: 'port to listen on, 0 for any free port',
    default: '8080',
  },
  { env: 'HOST', flags: '--host <address>', description: 'address to listen on', default: DEFAULTS.host },
  {
    env: 'DATABASE_URL',
    flags: '--database-url <url>',
    description: 'sqlite:PATH, sqlite::memory: or postgres://user@host:5432/db',
    default: DEFAULTS.databaseUrl,
  },
  {
    env: 'ADMIN_TOKEN',
    flags: '--admin-token <token>',
    description: 'the operator token (16+ characters)',
    default: 'generated on first start and printed once',
  },
  {
    env: 'ALLOW_PRIVATE_ENDPOINTS',
    flags: '--allow-private-endpoints [bool]',
    description: 'accept endpoint URLs on loopback/private addresses (development, tests)',
    default: 'false',
  },
  {
    env: 'RETRY_SCHEDULE',
    flags: '--retry-schedule <list>',
    description: 'delays before each retry, e.g. 1s,2s,5m,1h',
    default: 'about three days in 12 attempts',
  },
  {
    env: 'LOG_LEVEL',
    flags: '--log-level <level>',
    description: LOG_LEVELS.join(', '),
    default: DEFAULTS.logLevel,
  },
] as const;

/** The shortest `ADMIN_TOKEN` accepted: shorter ones are guessable. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;
/** A single retry delay above this is a typo (7 days). */
const MAX_RETRY_DELAY_MS = 7 * 24 * 60 * 60 * 1000;

/** The configuration, or every problem with it. */
export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/**
 * Reads the configuration from `env`.
 *
 * @example
 * const result = loadConfig(process.env);
 * if (!result.ok) { console.error(result.problems.join('\n')); process.exit(1); }
 */
export function loadConfig(env: NodeJS.ProcessEnv): ConfigResult {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };

  let port = DEFAULTS.port;
  const rawPort = value('PORT');
  if (rawPort !== undefined) {
    if (/^\d{1,5}$/.test(rawPort) && Number(rawPort) <= 65535) port = Number(rawPort);
    else problems.push(`PORT must be a port number from 0 to 65535, not ${JSON.stringify(rawPort)}`);
  }

  const host = value('HOST') ?? DEFAULTS.host;

  const databaseUrl = value('DATABASE_URL') ?? DEFAULTS.databaseUrl;
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(databaseUrl)) {
    problems.push(
      'DATABASE_URL must be sqlite:PATH (e.g. sqlite:./data/tpcs.db), sqlite::memory: or postgres://user@host:5432/db',
    );
  }

  const adminToken = value('ADMIN_TOKEN');
  if (adminToken !== undefined && (adminToken.length < MIN_ADMIN_TOKEN_LENGTH || /\s/.test(adminToken))) {
    problems.push(`ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters without spaces`);
  }

  let allowPrivateEndpoints = false;
  const rawAllow = value('ALLOW_PRIVATE_ENDPOINTS')?.toLowerCase();
  if (rawAllow !== undefined) {
    if (['true', '1', 'yes'].includes(rawAllow)) allowPrivateEndpoints = true;
    else if (['false', '0', 'no'].includes(rawAllow)) allowPrivateEndpoints = false;
    else problems.push(`ALLOW_PRIVATE_ENDPOINTS must be true or false, not ${JSON.stringify(rawAllow)}`);
  }

  let retryScheduleMs: readonly number[] = DEFAULT_RETRY_SCHEDULE_MS;
  const rawSchedule = value('RETRY_SCHEDULE');
  if (rawSchedule !== undefined) {
    const schedule = retrySchedule(rawSchedule);
    if (typeof schedule === 'string') problems.push(schedule);
    else retryScheduleMs = schedule;
  }

  const rawLevel = value('LOG_LEVEL')?.toLowerCase() ?? DEFAULTS.logLevel;
  const logLevel = (LOG_LEVELS as readonly string[]).includes(rawLevel)
    ? (rawLevel as LogLevel)
    : DEFAULTS.logLevel;
  if (logLevel !== rawLevel) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: { port, host, databaseUrl, adminToken, allowPrivateEndpoints, retryScheduleMs, logLevel },
  };
}

/** `RETRY_SCHEDULE` in ms, or the problem with it. The format is the dispatcher's (one parser). */
function retrySchedule(text: string): number[] | string {
  let schedule: number[];
  try {
    schedule = parseRetrySchedule(text);
  } catch (err) {
    return (err as Error).message;
  }
  if (schedule.length === 0) return 'RETRY_SCHEDULE must list at least one duration, e.g. 1s,2s,5m,1h';
  if (schedule.some((ms) => ms <= 0)) return 'RETRY_SCHEDULE durations must be greater than zero';
  if (schedule.some((ms) => ms > MAX_RETRY_DELAY_MS))
    return 'RETRY_SCHEDULE durations must be at most 7d each';
  if (schedule.length > 100) return 'RETRY_SCHEDULE must list at most 100 durations';
  return schedule;
}
