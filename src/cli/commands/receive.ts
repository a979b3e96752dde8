import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { type Logger, pino } from 'pino';
import type { SettingValues } from '../../config/index.js';
import { reachableUrl } from '../../http/reachable-url.js';
import { createReceiver, createSqliteInbox, type InboxStore, type Receiver } from '../../receiver/index.js';
import { createReceiverServer, WEBHOOK_PATH } from '../../receiver/service/server.js';
import { addOptions, commandAction, EXIT, EXIT_CODES_HELP, UsageError } from '../options.js';

/** How often `tpcs receive` logs what it took since the last summary (only when it took something). */
const SUMMARY_INTERVAL_MS = 10_000;

/**
 * `tpcs receive`: the receiver kit as a ready service. Takes events at `POST /webhook`, keeps the
 * latest status per third party in a SQLite file, and serves it at `GET /statuses/…`. Settings are
 * read like every command's: flag, then environment, then default (all shown by `--help`).
 */
export function registerReceive(program: Command): void {
  const command = program
    .command('receive')
    .description(
      'run a webhook receiver: POST /webhook, GET /statuses/{customer_id}/{ref}, GET /healthz, GET /readyz',
    );
  addOptions(command, 'receive')
    .addHelpText(
      'after',
      `
Logs are JSON lines on stdout (pino); the first, "listening", carries the port (useful with --port 0).
Stop it with Ctrl-C or SIGTERM: requests in flight are answered first.

Examples:
  $ tpcs receive --secret whsec_… --port 3000 --db ./data/receiver.db
  $ WEBHOOK_SECRET=whsec_…,whsec_… tpcs receive --host 0.0.0.0 --synchronous full
  $ tpcs receive --insecure-skip-verify --port 0 --log-level debug
${EXIT_CODES_HELP}`,
    )
    .action(commandAction('receive', {}, runReceiveService));
}

/** What the start line says when signatures are not checked, so that no one runs it so unawares. */
const INSECURE_WARNING =
  'signature verification is OFF (--insecure-skip-verify): anyone who can reach this port can forge events';

/**
 * The secrets to check signatures with, or none when the operator said `--insecure-skip-verify`.
 * Without a secret (an empty one reads as none) it refuses to start: a receiver that quietly accepts
 * forged events is worse than one that does not start.
 */
function secretsToCheck(options: SettingValues<'receive'>): string[] {
  const secrets = options.webhookSecrets ?? [];
  if (options.insecureSkipVerify) {
    if (secrets.length > 0) {
      throw new UsageError(
        'conflicting_options: --secret (or WEBHOOK_SECRET) and --insecure-skip-verify (or INSECURE_SKIP_VERIFY) ' +
          'were both given; give one',
      );
    }
    return [];
  }
  if (secrets.length === 0) {
    throw new UsageError(
      'missing_secret: no signing secret: give --secret whsec_… or WEBHOOK_SECRET (an empty value counts ' +
        'as none); to accept unsigned events that anyone can forge, add --insecure-skip-verify',
    );
  }
  return secrets;
}

async function runReceiveService(options: SettingValues<'receive'>): Promise<void> {
  const secrets = secretsToCheck(options);
  const { destination, flushSync, flushAtExit } = logDestination();
  const flushTimer = setInterval(() => destination.flush(), 200).unref();
  const log = pino({ level: options.logLevel, base: { service: 'tpcs-receive' } }, destination);
  // Could not start (an inbox that cannot be opened, a port in use): one line on stderr, exit 1.
  const fail = (message: string): never => {
    log.fatal(message);
    flushSync();
    console.error(`tpcs receive: could not start: ${message}`);
    process.exit(EXIT.failed);
  };

  const synchronous = options.receiverSynchronous === 'full' ? 'FULL' : 'NORMAL';

  let receiver: ReturnType<typeof createReceiver>;
  let inbox: InboxStore;
  try {
    // In-thread writes (checkpoints and FULL's fsync off the event loop): the fastest measured (bench/receiver).
    inbox = createSqliteInbox(options.receiverDb, { synchronous, logger: log });
    receiver = createReceiver({
      ...(options.insecureSkipVerify ? { insecureSkipVerify: true } : { secrets }),
      inbox,
      maxBodyBytes: options.receiverMaxBodyBytes,
      futureToleranceSeconds: options.receiverFutureTolerance,
      logger: log,
    });
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  const server = createReceiverServer(receiver);
  server.listen(options.receiverPort, options.receiverHost);
  try {
    await once(server, 'listening');
  } catch (error) {
    await receiver.close();
    await inbox.close();
    return fail(error instanceof Error ? error.message : String(error));
  }
  const address = server.address() as AddressInfo;
  // Written whatever the level: it carries the port (`--port 0`), and whoever started us waits for it.
  const announce = log.isLevelEnabled('info') ? log : log.child({}, { level: 'info' });
  const started = {
    port: address.port,
    url: `${reachableUrl(address.address, address.port)}${WEBHOOK_PATH}`,
    db: options.receiverDb,
    synchronous,
    signature_verification: receiver.verifiesSignatures,
    secrets: secrets.length,
  };
  if (receiver.verifiesSignatures) announce.info(started, 'listening');
  else announce.warn({ ...started, insecure_skip_verify: true, warning: INSECURE_WARNING }, 'listening');
  destination.flush();
  const summaries = logSummaries(receiver, log);

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
    summaries.stop();
    log.info('stopped');
    clearInterval(flushTimer);
    await flushAtExit();
  };
  process.once('SIGTERM', (signal) => void shutdown(signal));
  process.once('SIGINT', (signal) => void shutdown(signal));
}

/** Log bytes held while stdout cannot be written (a full disk under `> receiver.log`); more are dropped. */
const LOG_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * Buffered stdout: with `--log-level debug` (a line per event) a line must not cost one write(2) per
 * request. Lines are flushed every 4 KiB or 200 ms, whichever comes first, and synchronously on shutdown.
 *
 * Stdout redirected to a file on the inbox's disk fails when that disk fills, like the inbox: the
 * receiver must go on answering (503) rather than end on the stream's 'error' event. The lines that
 * failed stay buffered and are written again at the next flush, up to LOG_BUFFER_BYTES.
 */
function logDestination() {
  const destination = pino.destination({
    dest: 1,
    sync: false,
    minLength: 4096,
    maxLength: LOG_BUFFER_BYTES,
  });
  // Nowhere to report it: stderr is usually the same file. The flush timer tries again.
  destination.on('error', () => {});
  const flushSync = (): void => {
    try {
      destination.flushSync();
    } catch {
      // At exit with the disk still full: the buffered lines are lost, the inbox is not.
    }
  };
  return {
    destination,
    flushSync,
    /**
     * Waits for a write in flight and the held lines (a flushSync while an asynchronous write is under
     * way gives up on them), at most 2 s, then tries once more synchronously.
     */
    async flushAtExit() {
      await new Promise<void>((resolve) => {
        const giveUp = setTimeout(resolve, 2000);
        try {
          destination.flush(() => {
            clearTimeout(giveUp);
            resolve();
          });
        } catch {
          clearTimeout(giveUp);
          resolve();
        }
      });
      flushSync();
    },
  };
}

/**
 * One info line per interval with what was taken (events per outcome, rejections per status), instead
 * of one per event: the inbox already keeps every event, and `--log-level debug` adds the per-event lines.
 */
function logSummaries(receiver: Receiver, log: Logger): { stop(): void } {
  let last = receiver.stats();
  let lastAt = Date.now();
  const summarise = () => {
    const now = receiver.stats();
    const at = Date.now();
    const rejected: Record<string, number> = {};
    let rejectedTotal = 0;
    for (const [status, count] of Object.entries(now.rejected)) {
      const delta = count - (last.rejected[Number(status)] ?? 0);
      if (delta > 0) rejected[status] = delta;
      rejectedTotal += delta;
    }
    const accepted = {
      recorded: now.recorded - last.recorded,
      duplicate: now.duplicate - last.duplicate,
      stale: now.stale - last.stale,
    };
    const total = accepted.recorded + accepted.duplicate + accepted.stale + rejectedTotal;
    if (total > 0) {
      const seconds = (at - lastAt) / 1000;
      log.info(
        {
          ...accepted,
          rejected,
          seconds: Number(seconds.toFixed(1)),
          per_second: Math.round(total / seconds),
        },
        'requests since the last summary',
      );
    }
    last = now;
    lastAt = at;
  };
  const timer = setInterval(summarise, SUMMARY_INTERVAL_MS).unref();
  return {
    stop() {
      clearInterval(timer);
      summarise();
    },
  };
}
