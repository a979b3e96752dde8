import type { Command } from 'commander';
import { type DatabaseLocation, openStorage, parseDatabaseUrl } from '../../storage/index.js';
import { addOptions, commandAction, EXIT_CODES_HELP } from '../options.js';
import { startProgress } from '../progress.js';
import { secretsKeySource } from './secrets.js';

/** `tpcs migrate`: applies the numbered migrations not yet applied to `DATABASE_URL`, and says which. */
export function registerMigrate(program: Command): void {
  const command = program
    .command('migrate')
    .description('apply database migrations to DATABASE_URL (default sqlite:./data/tpcs.db)');
  addOptions(command, 'migrate')
    .addHelpText(
      'after',
      `
Safe to run again: it applies only the migrations not applied yet (tpcs serve does the same at start).

Examples:
  $ tpcs migrate
  $ tpcs migrate --database-url sqlite:/var/lib/tpcs/tpcs.db
  $ DATABASE_URL=postgres://tpcs@db.internal:5432/tpcs SECRETS_KEY=… tpcs migrate
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('migrate', {}, async (settings) => {
        const { databaseUrl } = settings;
        // the key, when given, also encrypts secrets stored in plaintext by an earlier version
        const secrets = secretsKeySource(settings, { needed: false });
        const location = parseDatabaseUrl(databaseUrl);
        const where = describeDatabase(location);
        const progress = startProgress(`migrating ${where}`, undefined);
        try {
          const storage = await openStorage(databaseUrl, {
            secrets,
            onMigration: (name, done, total) => progress.tick(`${name} (${done + 1} of ${total})`, done + 1),
          });
          await storage.close();
          progress.stop();
          const { applied } = storage;
          if (applied.length === 0) console.log(`tpcs migrate: ${where} is up to date`);
          else
            console.log(
              `tpcs migrate: applied ${applied.length} migration(s) to ${where}:\n${applied.map((m) => `  ${m}`).join('\n')}`,
            );
        } catch (err) {
          progress.stop();
          // worded by commandAction: "cannot reach the database: …" when it did not answer; exit 1
          throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
        }
      }),
    );
}

/**
 * The database, as a message names it: the SQLite file, or the PostgreSQL host and database (never
 * the user's password).
 *
 * @example
 * describeDatabase(parseDatabaseUrl('postgres://u:pw@db:5432/tpcs')); // 'PostgreSQL db:5432/tpcs'
 */
export function describeDatabase(location: DatabaseLocation): string {
  if (location.dialect === 'sqlite') return `SQLite ${location.file}`;
  try {
    const url = new URL(location.url);
    return `PostgreSQL ${url.host}${url.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}
