import type { Command } from 'commander';
import { CONFIG_SETTINGS, DEFAULTS } from '../../config.js';
import { openStorage, parseDatabaseUrl } from '../../storage/index.js';
import { addEnvMirrors, envWithFlags } from '../options.js';
import { startProgress } from '../progress.js';

/** `tpcs migrate`: applies the numbered migrations not yet applied to `DATABASE_URL`, and says which. */
export function registerMigrate(program: Command): void {
  const settings = CONFIG_SETTINGS.filter((s) => s.env === 'DATABASE_URL');
  const command = program
    .command('migrate')
    .description('apply database migrations to DATABASE_URL (default sqlite:./data/tpcs.db)');
  addEnvMirrors(command, settings).action(async (options: Record<string, unknown>) => {
    const databaseUrl =
      envWithFlags(process.env, options, settings).DATABASE_URL?.trim() || DEFAULTS.databaseUrl;
    let dialect: string;
    try {
      dialect = parseDatabaseUrl(databaseUrl).dialect;
    } catch (err) {
      console.error(`tpcs migrate: ${(err as Error).message}`);
      process.exit(1);
    }
    const progress = startProgress(`migrating ${dialect}`, undefined);
    try {
      const storage = await openStorage(databaseUrl, {
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
  });
}
