import type { Command } from 'commander';
import { deliveryTuning, LOG_LEVELS, type LogLevel } from '../../config/index.js';
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
    .addHelpText('after', EXIT_CODES_HELP)
    .action(
      commandAction('worker', {}, async (settings) => {
        // bounded like serve's: a stalled database fails a claim (logged, retried at the next poll)
        const storage = await openStorage(settings.databaseUrl, {
          timeoutMs: settings.databaseTimeoutMs,
          secrets: secretsKeySource(settings, { needed: true }), // PostgreSQL without a key: exit 2
        });
        const keyWarning = secretsKeyWarning(storage.secrets);
        if (keyWarning) console.warn(JSON.stringify({ level: 'warn', msg: keyWarning, time: Date.now() }));
        const service = await startDeliveryService({
          queue: storage.queue,
          allowPrivateEndpoints: settings.allowPrivateEndpoints,
          retryScheduleMs: settings.retryScheduleMs,
          dispatchers: settings.workerDispatchers,
          tuning: deliveryTuning(settings),
          log: (level, msg, extra) => {
            if (!logs(settings.logLevel, level)) return;
            console[level === 'info' ? 'log' : level](
              JSON.stringify({ level, msg, ...extra, time: Date.now() }),
            );
          },
        });
        console.log(
          `tpcs worker: delivering (${service.dispatchers.map((d) => d.workerId).join(', ')}) on ${storage.dialect}`,
        );
        const shutdown = () => {
          service
            .stop()
            .then(() => storage.close())
            .then(
              () => {
                const counts = service.dispatchers.map((d) => ({ worker: d.workerId, ...d.counts() }));
                console.log(JSON.stringify({ level: 'info', msg: 'stopped', counts }));
                process.exit(0);
              },
              () => process.exit(1),
            );
        };
        process.once('SIGTERM', shutdown);
        process.once('SIGINT', shutdown);
      }),
    );
}

/** Whether a line at `level` is written under `LOG_LEVEL` (`silent` writes none). */
function logs(threshold: LogLevel, level: 'info' | 'warn' | 'error'): boolean {
  return threshold !== 'silent' && LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(threshold);
}
