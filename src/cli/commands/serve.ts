import type { Command } from 'commander';
import { CONFIG_SETTINGS, loadConfig } from '../../config.js';
import { startServer } from '../../http/server.js';
import { type DeliveryTuning, tuningFromEnv } from '../../webhooks/dispatcher/service.js';
import { addEnvMirrors, EXIT, envWithFlags } from '../options.js';

/** Gives up on a graceful shutdown after this long (in-flight requests that never end). */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * `tpcs serve`: the platform service (partner API, operator API, OpenAPI, metrics), configured from
 * the environment (`PORT`, `HOST`, `DATABASE_URL`, `ADMIN_TOKEN`, `ALLOW_PRIVATE_ENDPOINTS`,
 * `RETRY_SCHEDULE`, `LOG_LEVEL`, and the dispatcher's `DELIVERY_*`), with one dispatcher delivering
 * beside the API. Exits 1 on invalid configuration; 0 after SIGTERM/SIGINT.
 */
export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('run the platform service (configured by flags or PORT, DATABASE_URL, ADMIN_TOKEN, …)');
  addEnvMirrors(command, CONFIG_SETTINGS)
    .addHelpText(
      'after',
      '\nThe dispatcher is tuned by DELIVERY_* environment variables (see tpcs worker --help).',
    )
    .action(async (options: Record<string, unknown>) => {
      const result = loadConfig(envWithFlags(process.env, options, CONFIG_SETTINGS));
      if (!result.ok) {
        console.error(
          `tpcs serve: invalid configuration:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`,
        );
        process.exit(EXIT.usage);
      }
      let tuning: DeliveryTuning;
      try {
        tuning = tuningFromEnv(process.env);
      } catch (err) {
        console.error(`tpcs serve: invalid configuration:\n  - ${(err as Error).message}`);
        process.exit(EXIT.usage);
      }
      // Signals are handled from here on, so that one arriving while the service starts (or right
      // after the "listening" line, before anything else runs) still shuts it down cleanly.
      const starting = startServer(result.config, undefined, tuning);
      let stopping = false;
      const shutdown = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        const force = setTimeout(() => {
          console.error('tpcs serve: shutdown timed out');
          process.exit(1);
        }, SHUTDOWN_TIMEOUT_MS);
        force.unref();
        starting
          .then(async (server) => {
            server.app.log.info({ signal }, 'shutting down');
            await server.close();
          })
          .then(
            () => process.exit(0),
            (err: unknown) => {
              console.error(`tpcs serve: error while shutting down: ${(err as Error).message}`);
              process.exit(1);
            },
          );
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);

      let server: Awaited<typeof starting>;
      try {
        server = await starting;
      } catch (err) {
        console.error(`tpcs serve: could not start: ${(err as Error).message}`);
        process.exit(1);
      }
      if (!stopping)
        console.log(`tpcs serve: listening on ${server.url} (API reference: ${server.url}/docs)`);
    });
}
