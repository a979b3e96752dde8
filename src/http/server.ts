/**
 * Starting the service for real: open and migrate the store, make sure an operator token exists,
 * listen, and close in the right order (stop taking requests, finish the ones in flight, then close
 * the store).
 */
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import { openStorage } from '../storage/index.js';
import type { Store } from '../storage/store.js';
import { type DeliveryService, startDeliveryService } from '../webhooks/dispatcher/service.js';
import { buildApp } from './app.js';
import { ADMIN_TOKEN_SETTING, generateToken, hashToken } from './auth.js';
import { startIdempotencyPruner } from './idempotency.js';

/** A listening service. */
export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  /** `http://host:port` actually bound (the port is real even when 0 was asked for). */
  url: string;
  /** The dispatcher delivering events beside the API (the `tpcs worker` code, one dispatcher). */
  delivery: DeliveryService;
  /** Stops accepting connections, lets in-flight requests finish, stops delivering, then closes the store. */
  close(): Promise<void>;
}

/** Where the one-time admin token line goes (stdout by default). */
export type Print = (line: string) => void;

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
 * Starts the service as configured.
 *
 * @example
 * const server = await startServer(config);
 * process.once('SIGTERM', () => server.close());
 */
export async function startServer(
  config: Config,
  print: Print = (line) => console.log(line),
): Promise<RunningServer> {
  const logger = pino({ level: config.logLevel, base: { service: 'tpcs' } });
  const storage = await openStorage(config.databaseUrl);
  const { store, applied } = storage;
  try {
    logger.info(
      { applied, dialect: storage.dialect },
      applied.length ? 'migrations applied' : 'schema up to date',
    );
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
    });
    await app.listen({ port: config.port, host: config.host }).catch(async (err: unknown) => {
      await app.close();
      await delivery.stop();
      throw err;
    });
    const pruner = startIdempotencyPruner(store, {
      onPruned: (count) => logger.info({ count }, 'expired idempotency keys pruned'),
      onError: (err) => logger.warn({ err }, 'pruning idempotency keys failed; trying again in an hour'),
    });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    let closing: Promise<void> | undefined;
    return {
      app,
      store,
      delivery,
      url: `http://${host}:${port}`,
      close() {
        closing ??= (async () => {
          try {
            await app.close();
            await pruner.stop();
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
