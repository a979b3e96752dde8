/**
 * Starting the service for real: open and migrate the store, make sure an operator token exists,
 * listen, and close in the right order (stop taking requests, finish the ones in flight, then close
 * the store). Every wait has a bound: on the database (`DATABASE_TIMEOUT`, then 503) and on slow
 * clients (`HTTP_*_TIMEOUT`, then 408 and the connection closed).
 */
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { startAlertPruner } from '../alerts/pruning.js';
import { type Config, readSettings, type SettingValues } from '../config/index.js';
import { type SecretsKeySource, secretsKeyWarning } from '../secrets/unlock.js';
import { openStorage } from '../storage/index.js';
import type { Store } from '../storage/store.js';
import { type DeliveryService, startDeliveryService } from '../webhooks/dispatcher/service.js';
import { buildApp } from './app.js';
import { ADMIN_TOKEN_SETTING, generateToken, hashToken } from './auth.js';
import { startIdempotencyPruner } from './idempotency.js';
import { reachableUrl } from './reachable-url.js';

export { reachableUrl };

/** A listening service. */
export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  /**
   * `http://host:port` to reach it: the port actually bound (real even when 0 was asked for), the host
   * as configured, or `localhost` for a wildcard host (`0.0.0.0`, `::`); see {@link reachableUrl}.
   */
  url: string;
  /** The dispatcher delivering events beside the API (the `tpcs worker` code, one dispatcher). */
  delivery: DeliveryService;
  /** Stops accepting connections, lets in-flight requests finish, stops delivering, then closes the store. */
  close(): Promise<void>;
}

/** Where the one-time admin token line goes (stdout by default). */
export type Print = (line: string) => void;

/** The service's bounds on waiting, in milliseconds (settings `DATABASE_TIMEOUT` and `HTTP_*_TIMEOUT`). */
export interface ServiceTimeouts {
  /** On the database: a connection, then each statement (SQLite: a lock); past it the request answers 503. */
  databaseMs: number;
  /** For a client to send a request's headers, from connecting. */
  headersMs: number;
  /** For a client to send a whole request, headers and body. */
  requestMs: number;
  /** An idle connection between two requests stays open this long. */
  keepAliveMs: number;
}

/**
 * The bounds from `serve`'s settings (as read by the CLI); without settings, the table's defaults.
 *
 * @example
 * await startServer(serviceConfig(settings), { timeouts: serviceTimeouts(settings) });
 */
export function serviceTimeouts(s?: SettingValues<'serve'>): ServiceTimeouts {
  const values = s ?? defaults();
  return {
    databaseMs: values.databaseTimeoutMs,
    headersMs: values.httpHeadersTimeoutMs,
    requestMs: values.httpRequestTimeoutMs,
    keepAliveMs: values.httpKeepAliveTimeoutMs,
  };
}

function defaults(): SettingValues<'serve'> {
  const read = readSettings('serve', {}, {});
  if (!read.ok) throw new Error(read.problems.join('\n'));
  return read.values;
}

/**
 * Bounds slow clients on the listening server: Fastify turns Node's request timeout off, so a body
 * sent one byte at a time held its socket for as long as the client liked. Node enforces the header
 * and request bounds on a timer (every 30 s by default, read when the server starts listening): a
 * quarter of the shorter bound, at most 1 s, so a slow client is cut at most that much past its bound.
 */
function boundSlowClients(server: Server, t: ServiceTimeouts): void {
  server.headersTimeout = t.headersMs;
  server.requestTimeout = t.requestMs;
  server.keepAliveTimeout = t.keepAliveMs;
  const check = Math.max(10, Math.min(1000, Math.floor(Math.min(t.headersMs, t.requestMs) / 4)));
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = check;
}

/**
 * The hash of the operator token. `ADMIN_TOKEN` wins when set. Otherwise the first start generates a
 * token, stores only its hash and prints the token once; later starts find the hash and print nothing.
 *
 * @example
 * const adminTokenHash = await ensureAdminToken(store, process.env.ADMIN_TOKEN, console.log);
 */
export async function ensureAdminToken(
  store: Store,
  adminToken: string | undefined,
  print: Print,
): Promise<string> {
  if (adminToken !== undefined) return hashToken(adminToken);
  const existing = await store.getSetting(ADMIN_TOKEN_SETTING);
  if (existing !== undefined) return existing;
  const token = generateToken('admin');
  if (await store.setSettingIfAbsent(ADMIN_TOKEN_SETTING, hashToken(token))) {
    print(`Admin token (shown only this once, store it now): ${token}`);
    return hashToken(token);
  }
  // Another process started at the same moment and won: its token is the one.
  const winner = await store.getSetting(ADMIN_TOKEN_SETTING);
  if (winner === undefined) throw new Error('admin token setting vanished');
  return winner;
}

/**
 * Starts the service as configured. `timeouts` default to the settings' defaults; `secrets` says
 * where the key that encrypts endpoint secrets is (`SECRETS_*`; without it, see `openStorage`).
 *
 * @example
 * const server = await startServer(config);
 * process.once('SIGTERM', () => server.close());
 */
export async function startServer(
  config: Config,
  options: { print?: Print; timeouts?: ServiceTimeouts; secrets?: SecretsKeySource } = {},
): Promise<RunningServer> {
  const print = options.print ?? ((line: string) => console.log(line));
  const timeouts = options.timeouts ?? serviceTimeouts();
  const logger = pino({ level: config.logLevel, base: { service: 'tpcs' } });
  const storage = await openStorage(config.databaseUrl, {
    timeoutMs: timeouts.databaseMs,
    secrets: options.secrets,
    backgroundCheckpoints: true,
  });
  const { store, applied } = storage;
  try {
    logger.info(
      { applied, dialect: storage.dialect },
      applied.length ? 'migrations applied' : 'schema up to date',
    );
    const { keyId, from, encrypted } = storage.secrets;
    logger.info({ keyId, from, encrypted }, 'endpoint secrets are stored encrypted');
    const keyWarning = secretsKeyWarning(storage.secrets);
    if (keyWarning) logger.warn({ keyFile: storage.secrets.keyFile }, keyWarning);
    const adminTokenHash = await ensureAdminToken(store, config.adminToken, print);
    if (config.allowPrivateEndpoints) {
      logger.warn(
        'ALLOW_PRIVATE_ENDPOINTS=true: endpoint URLs on private and loopback addresses are accepted',
      );
    }
    // Dispatchers beside the API (one by default), so that `npm start` alone delivers; `tpcs worker` adds more. Started
    // first: the app's retry, recover and test routes (and the dashboard's retry) use its queue and sender.
    // One registry for everything this process counts: `/metrics` serves it.
    const registry = new Registry();
    const delivery = await startDeliveryService({
      queue: storage.queue,
      store,
      registry,
      allowPrivateEndpoints: config.allowPrivateEndpoints,
      retryScheduleMs: config.retryScheduleMs,
      tuning: config.delivery,
      log: (level, msg, extra) => logger[level](extra ?? {}, msg),
    });
    const app = buildApp({
      store,
      registry,
      adminTokenHash,
      logger,
      allowPrivateEndpoints: config.allowPrivateEndpoints,
      delivery,
      trustProxy: config.trustProxy,
      rateLimits: config.rateLimits,
      dashboardSessionTtlMs: config.dashboardSessionTtlMs,
      eventStreams: config.eventStreams,
      endpointsPerPartner: config.endpointsPerPartner,
      portal: config.portal,
    });
    boundSlowClients(app.server, timeouts);
    await app.listen({ port: config.port, host: config.host }).catch(async (err: unknown) => {
      await app.close();
      await delivery.stop();
      throw err;
    });
    const pruner = startIdempotencyPruner(store, {
      onPruned: (count) => logger.info({ count }, 'expired idempotency keys pruned'),
      onError: (err) => logger.warn({ err }, 'pruning idempotency keys failed; trying again in an hour'),
    });
    const alertPruner = startAlertPruner(store, config.alertRetentionMs, {
      onPruned: (count) => logger.info({ count }, 'old failure alerts pruned'),
      onError: (err) => logger.warn({ err }, 'pruning failure alerts failed; trying again in an hour'),
    });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    let closing: Promise<void> | undefined;
    return {
      app,
      store,
      delivery,
      url: reachableUrl(config.host, port),
      close() {
        closing ??= (async () => {
          try {
            await app.close();
            await pruner.stop();
            await alertPruner.stop();
            await delivery.stop();
          } finally {
            await storage.close();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    await storage.close().catch(() => undefined);
    throw err;
  }
}
