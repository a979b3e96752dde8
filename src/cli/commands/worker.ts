import type { Command } from 'commander';
import { CONFIG_SETTINGS, loadConfig } from '../../config.js';
import { openStorage } from '../../storage/index.js';
import { startDeliveryService, tuningFromEnv } from '../../webhooks/dispatcher/service.js';
import { addEnvMirrors, EXIT, envWithFlags } from '../options.js';

/**
 * `tpcs worker`: dispatchers only, no API. Configured like `serve` (`DATABASE_URL`,
 * `ALLOW_PRIVATE_ENDPOINTS`, `RETRY_SCHEDULE`) plus the delivery knobs (`DELIVERY_TIMEOUT`,
 * `DELIVERY_CONCURRENCY`, `DELIVERY_PER_ENDPOINT`, `DELIVERY_LEASE`, `DELIVERY_POLL`,
 * `ENDPOINT_FAILURE_WINDOW`, `RETRY_JITTER`). Run several, on several machines, against one
 * PostgreSQL database. SIGTERM/SIGINT stop it gracefully.
 */
export function registerWorker(program: Command): void {
  // The worker listens on nothing, so the service's port and host flags do not apply.
  const settings = CONFIG_SETTINGS.filter(
    (s) => s.env !== 'PORT' && s.env !== 'HOST' && s.env !== 'ADMIN_TOKEN',
  );
  const command = program
    .command('worker')
    .description(
      'run webhook dispatchers only (configured by flags or DATABASE_URL, RETRY_SCHEDULE, DELIVERY_*, …)',
    )
    .option('--dispatchers <n>', 'claim loops in this process', '1');
  addEnvMirrors(command, settings)
    .addHelpText(
      'after',
      '\nDelivery tuning (environment only): DELIVERY_TIMEOUT, DELIVERY_CONCURRENCY, DELIVERY_PER_ENDPOINT,\nDELIVERY_LEASE, DELIVERY_POLL, DELIVERY_DISPATCHERS (claim loops per process; 0 in serve = API only),\nENDPOINT_FAILURE_WINDOW, RETRY_JITTER.',
    )
    .action(async (opts: { dispatchers: string } & Record<string, unknown>) => {
      const result = loadConfig(envWithFlags(process.env, opts, settings));
      if (!result.ok) {
        console.error(
          `tpcs worker: invalid configuration:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`,
        );
        process.exit(EXIT.usage);
      }
      const config = result.config;
      let tuning: ReturnType<typeof tuningFromEnv>;
      try {
        tuning = tuningFromEnv(process.env);
      } catch (err) {
        console.error(`tpcs worker: invalid configuration: ${(err as Error).message}`);
        process.exit(EXIT.usage);
      }
      const storage = await openStorage(config.databaseUrl);
      const service = await startDeliveryService({
        queue: storage.queue,
        allowPrivateEndpoints: config.allowPrivateEndpoints,
        retryScheduleMs: config.retryScheduleMs,
        dispatchers: Math.max(1, Number.parseInt(opts.dispatchers, 10) || 1),
        tuning,
        log: (level, msg, extra) =>
          console[level === 'info' ? 'log' : level](
            JSON.stringify({ level, msg, ...extra, time: Date.now() }),
          ),
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
    });
}
