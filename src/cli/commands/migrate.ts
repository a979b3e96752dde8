import type { Command } from 'commander';
import { openStorage, parseDatabaseUrl } from '../../storage/index.js';
import { addOptions, commandAction, EXIT_CODES_HELP } from '../options.js';
import { startProgress } from '../progress.js';
import { secretsKeySource } from './secrets.js';

/** `tpcs migrate`: applies the numbered migrations not yet applied to `DATABASE_URL`, and says which. */
export function registerMigrate(program: Command): void {
  const command = program
    .command('migrate')
    .description('apply database migrations to DATABASE_URL (default sqlite:./data/tpcs.db)');
  addOptions(command, 'migrate')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(
      commandAction('migrate', {}, async (settings) => {
        const { databaseUrl } = settings;
        // the key, when given, also encrypts secrets stored in plaintext by an earlier version
        const secrets = secretsKeySource(settings, { needed: false });
        const { dialect } = parseDatabaseUrl(databaseUrl);
        const progress = startProgress(`migrating ${dialect}`, undefined);
        try {
          const storage = await openStorage(databaseUrl, {
            secrets,
            onMigration: (name, done, total) => progress.tick(`${name} (${done + 1} of ${total})`, done + 1),
          });
          await storage.close();
          progress.stop();
          const { applied } = storage;
          if (applied.length === 0) console.log(`tpcs migrate: ${dialect} schema is up to date`);
          else
            console.log(
              `tpcs migrate: applied ${applied.length} migration(s) to ${dialect}:\n${applied.map((m) => `  ${m}`).join('\n')}`,
            );
        } catch (err) {
          progress.stop();
          console.error(`tpcs migrate: failed: ${(err as Error).message}`);
          process.exitCode = 1;
        }
      }),
    );
}
