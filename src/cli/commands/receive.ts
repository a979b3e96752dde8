import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { pino } from 'pino';
import { createReceiver, createSqliteInbox, type InboxStore } from '../../receiver/index.js';
import { createReceiverServer, WEBHOOK_PATH } from '../../receiver/service/server.js';
import { EXIT_CODES_HELP, integer, oneOf, port as portNumber, secretList, setting } from '../options.js';

interface ReceiveOptions {
  port: number;
  host: string;
  secret: string[];
  db: string;
  maxBodyBytes: number;
  synchronous: 'full' | 'normal';
}

/**
 * `tpcs receive`: the receiver kit as a ready service. Takes events at `POST /webhook`, keeps the
 * latest status per third party in a SQLite file, and serves it at `GET /statuses/…`. Settings are
 * read like every command's: flag, then environment, then default (all shown by `--help`).
 */
export function registerReceive(program: Command): void {
  program
    .command('receive')
    .description('run a webhook receiver: POST /webhook, GET /statuses/{customer_id}/{ref}, GET /healthz')
    .addOption(
      setting({
        flags: '-p, --port <port>',
        description: 'port to listen on, 0 for any free port',
        env: 'RECEIVER_PORT',
        default: 3000,
        parse: portNumber,
      }),
    )
    .addOption(
      setting({
        flags: '--host <host>',
        description: 'address to listen on',
        env: 'RECEIVER_HOST',
        default: '127.0.0.1',
      }),
    )
    .addOption(
      setting({
        flags: '--secret <whsec>',
        description: 'signing secret; repeat it (or comma-separate it) during a rotation',
        env: 'WEBHOOK_SECRET',
        default: [] as string[],
        defaultLabel: 'none: signatures are not checked',
      }).argParser(secretList),
    )
    .addOption(
      setting({
        flags: '--db <file>',
        description: 'SQLite inbox and status file',
        env: 'RECEIVER_DB',
        default: './data/receiver.db',
      }),
    )
    .addOption(
      setting({
        flags: '--max-body-bytes <bytes>',
        description: 'larger bodies are answered 413',
        env: 'RECEIVER_MAX_BODY_BYTES',
        default: 256 * 1024,
        parse: integer(1),
      }),
    )
    .addOption(
      setting({
        flags: '--synchronous <mode>',
        description:
          'full: fsync before every 200 (survives power loss); normal: survives a crash of this process only',
        env: 'RECEIVER_SYNCHRONOUS',
        default: 'full' as const,
        parse: oneOf(['full', 'normal'] as const),
      }),
    )
    .addHelpText('after', EXIT_CODES_HELP)
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

  const { secret: secrets, port, maxBodyBytes } = options;
  const synchronous = options.synchronous === 'full' ? 'FULL' : 'NORMAL';

  let receiver: ReturnType<typeof createReceiver>;
  let inbox: InboxStore;
  try {
    // In-thread writes: on 2 shared cores the worker-thread inbox measured slower (bench/receiver).
    inbox = createSqliteInbox(options.db, { synchronous });
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
