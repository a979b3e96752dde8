import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { pino } from 'pino';
import { createReceiver, createSqliteInbox, type InboxStore } from '../../receiver/index.js';
import { createReceiverServer, WEBHOOK_PATH } from '../../receiver/service/server.js';

interface ReceiveOptions {
  port: string;
  host: string;
  secret: string[];
  db: string;
  maxBodyBytes: string;
  synchronous: string;
}

/**
 * `tpcs receive`: the receiver kit as a ready service. Takes events at `POST /webhook`, keeps the
 * latest status per third party in a SQLite file, and serves it at `GET /statuses/…`.
 */
export function registerReceive(program: Command): void {
  program
    .command('receive')
    .description('run a webhook receiver: POST /webhook, GET /statuses/{customer_id}/{ref}, GET /healthz')
    .option(
      '-p, --port <port>',
      'port to listen on, 0 for any free port (env RECEIVER_PORT)',
      process.env.RECEIVER_PORT ?? '3000',
    )
    .option(
      '--host <host>',
      'address to listen on (env RECEIVER_HOST)',
      process.env.RECEIVER_HOST ?? '127.0.0.1',
    )
    .option(
      '--secret <whsec>',
      'signing secret; repeat it during a rotation (env WEBHOOK_SECRET, comma-separated)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--db <file>',
      'SQLite inbox and status file (env RECEIVER_DB)',
      process.env.RECEIVER_DB ?? './data/receiver.db',
    )
    .option('--max-body-bytes <bytes>', 'larger bodies are answered 413', String(256 * 1024))
    .option(
      '--synchronous <mode>',
      'full: fsync before every 200 (survives power loss); normal: survives a crash of this process only',
      'full',
    )
    .action(async (options: ReceiveOptions) => {
      await runReceiveService(options);
    });
}

async function runReceiveService(options: ReceiveOptions): Promise<void> {
  // Asynchronous stdout: one log line per event must not cost a blocking write per request.
  // Buffered stdout: one log line per event must not cost one write(2) per request. Lines are flushed
  // every 4 KiB or 200 ms, whichever comes first, and synchronously on shutdown.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const flushTimer = setInterval(() => destination.flush(), 200).unref();
  const log = pino({ base: { service: 'tpcs-receive' } }, destination);
  const fail = (message: string): never => {
    log.fatal(message);
    destination.flushSync();
    process.exit(2);
  };

  const secrets =
    options.secret.length > 0
      ? options.secret
      : (process.env.WEBHOOK_SECRET ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  const port = Number(options.port);
  const maxBodyBytes = Number(options.maxBodyBytes);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`--port must be 0-65535, got ${options.port}`);
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1)
    fail('--max-body-bytes must be a positive integer');
  const synchronous = options.synchronous.toUpperCase();
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL') fail('--synchronous must be full or normal');

  let receiver: ReturnType<typeof createReceiver>;
  let inbox: InboxStore;
  try {
    // In-thread writes: on 2 shared cores the worker-thread inbox measured slower (bench/receiver).
    inbox = createSqliteInbox(options.db, { synchronous: synchronous as 'FULL' | 'NORMAL' });
    receiver = createReceiver({ secrets, inbox, maxBodyBytes, logger: log });
  } catch (error) {
    return fail(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
  }
  const server = createReceiverServer(receiver);
  server.listen(port, options.host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log.info(
    {
      port: address.port,
      url: `http://${host}:${address.port}${WEBHOOK_PATH}`,
      db: options.db,
      synchronous,
      signature_verification: receiver.verifiesSignatures,
      secrets: secrets.length,
    },
    'listening',
  );
  destination.flush(); // whoever started us waits for this line

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing requests in flight');
    // New connections are refused; requests in flight finish (their events are recorded and answered).
    const closed = once(server, 'close');
    server.close();
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), 10_000).unref();
    await closed;
    clearTimeout(force);
    // Handlers still pending stay in the inbox and run at the next start.
    await receiver.close();
    await inbox.close();
    log.info('stopped');
    clearInterval(flushTimer);
    destination.flushSync();
  };
  process.once('SIGTERM', (signal) => void shutdown(signal));
  process.once('SIGINT', (signal) => void shutdown(signal));
}
