import type { Command } from 'commander';
import { serviceConfig } from '../../config/index.js';
import { serviceTimeouts, startServer } from '../../http/server.js';
import { addOptions, commandAction, EXIT_CODES_HELP } from '../options.js';
import { secretsKeySource } from './secrets.js';

/** Gives up on a graceful shutdown after this long (in-flight requests that never end). */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * `tpcs serve`: the platform service (partner API, operator API, OpenAPI, metrics), with dispatchers
 * delivering beside the API. Every setting is a flag or an environment variable (`PORT`,
 * `DATABASE_URL`, `DATABASE_TIMEOUT`, `ADMIN_TOKEN`, `DELIVERY_*`, …; `--help` lists them). Exits 2 on an invalid
 * setting; 0 after SIGTERM/SIGINT.
 */
export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('run the platform service (configured by flags or PORT, DATABASE_URL, ADMIN_TOKEN, …)');
  addOptions(command, 'serve')
    .addHelpText(
      'after',
      `
Migrates the database on start; logs are JSON lines on stdout. Stop it with Ctrl-C or SIGTERM:
requests in flight are answered and deliveries in flight finish first.

Examples:
  $ ADMIN_TOKEN=dev-admin-token-0123456789 ALLOW_PRIVATE_ENDPOINTS=true tpcs serve --port 8080
  $ tpcs serve --host 127.0.0.1 --database-url sqlite:./data/tpcs.db --log-level warn
  $ DATABASE_URL=postgres://tpcs@db.internal:5432/tpcs SECRETS_KEY=… tpcs serve --dispatchers 0
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('serve', {}, async (settings) => {
        // Signals are handled from here on, so that one arriving while the service starts (or right
        // after the "listening" line, before anything else runs) still shuts it down cleanly.
        const secrets = secretsKeySource(settings, { needed: true }); // PostgreSQL without a key: exit 2
        const starting = startServer(serviceConfig(settings), {
          timeouts: serviceTimeouts(settings),
          secrets,
        });
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
          console.log(
            `tpcs serve: listening on ${server.url} (dashboard: ${server.url}/dashboard, API reference: ${server.url}/docs)`,
          );
      }),
    );
}
