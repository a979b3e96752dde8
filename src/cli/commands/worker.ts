import type { Command } from 'commander';
import { pino } from 'pino';
import { deliveryTuning } from '../../config/index.js';
import { secretsKeyWarning } from '../../secrets/unlock.js';
import { openStorage } from '../../storage/index.js';
import { startDeliveryService } from '../../webhooks/dispatcher/service.js';
import { addOptions, commandAction, EXIT_CODES_HELP } from '../options.js';
import { secretsKeySource } from './secrets.js';

/**
 * `tpcs worker`: dispatchers only, no API. Configured like `serve` (`DATABASE_URL`,
 * `ALLOW_PRIVATE_ENDPOINTS`, `RETRY_SCHEDULE`, the `DELIVERY_*` knobs, …; `--help` lists them). Run
 * several, on several machines, against one PostgreSQL database. SIGTERM/SIGINT stop it gracefully.
 */
export function registerWorker(program: Command): void {
  const command = program
    .command('worker')
    .description(
      'run webhook dispatchers only (configured by flags or DATABASE_URL, RETRY_SCHEDULE, DELIVERY_*, …)',
    );
  addOptions(command, 'worker')
    .addHelpText(
      'after',
      `
Logs are JSON lines on stdout, as tpcs serve's (pino: "level" 30 is info, 40 warn, 50 error). Stop
it with Ctrl-C or SIGTERM: attempts in flight finish first, and a last "stopped" line gives the counts.

Examples:
  $ DATABASE_URL=postgres://tpcs@db.internal:5432/tpcs SECRETS_KEY=… tpcs worker --dispatchers 4
  $ WORKER_DISPATCHERS=2 RETRY_SCHEDULE=5s,1m,10m tpcs worker --database-url postgres://tpcs@db.internal/tpcs
  $ tpcs worker --database-url sqlite:./data/tpcs.db --delivery-timeout 5s --log-level warn
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('worker', {}, async (settings) => {
        // bounded like serve's: a stalled database fails a claim (logged, retried at the next poll)
        const storage = await openStorage(settings.databaseUrl, {
          timeoutMs: settings.databaseTimeoutMs,
          secrets: secretsKeySource(settings, { needed: true }), // PostgreSQL without a key: exit 2
          backgroundCheckpoints: true,
        });
        const keyWarning = secretsKeyWarning(storage.secrets);
        // pino, like serve's logs: numeric levels, one JSON line each
        const log = pino({ level: settings.logLevel, base: { service: 'tpcs-worker' } });
        if (keyWarning) log.warn(keyWarning);
        const service = await startDeliveryService({
          queue: storage.queue,
          store: storage.store,
          allowPrivateEndpoints: settings.allowPrivateEndpoints,
          retryScheduleMs: settings.retryScheduleMs,
          dispatchers: settings.workerDispatchers,
          tuning: deliveryTuning(settings),
          log: (level, msg, extra) => log[level](extra ?? {}, msg),
        });
        const shutdown = () => {
          service
            .stop()
            .then(() => storage.close())
            .then(
              () => {
                const counts = service.dispatchers.map((d) => ({ worker: d.workerId, ...d.counts() }));
                // whatever the level: the counts are what whoever stopped it wants to know
                log.child({}, { level: 'info' }).info({ counts }, 'stopped');
                process.exit(0);
              },
              () => process.exit(1),
            );
        };
        process.once('SIGTERM', shutdown);
        process.once('SIGINT', shutdown);
        // after the handlers: whoever waits for this line may stop it at once
        console.log(
          `tpcs worker: delivering (${service.dispatchers.map((d) => d.workerId).join(', ')}) on ${storage.dialect}`,
        );
      }),
    );
}
