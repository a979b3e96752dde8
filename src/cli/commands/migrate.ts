import type { Command } from 'commander';
import { CONFIG_SETTINGS, DEFAULTS } from '../../config.js';
import { createStore } from '../../storage/index.js';
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
    let store: Awaited<ReturnType<typeof createStore>>;
    try {
      store = await createStore(databaseUrl);
    } catch (err) {
      console.error(`tpcs migrate: ${(err as Error).message}`);
      process.exit(1);
    }
    try {
      const progress = startProgress(`migrating ${store.dialect}`, undefined);
      const applied = await store.migrate((name, done, total) =>
        progress.tick(`${name} (${done + 1} of ${total})`, done + 1),
      );
      progress.stop();
      if (applied.length === 0) console.log(`tpcs migrate: ${store.dialect} schema is up to date`);
      else
        console.log(
          `tpcs migrate: applied ${applied.length} migration(s) to ${store.dialect}:\n${applied.map((m) => `  ${m}`).join('\n')}`,
        );
    } catch (err) {
      console.error(`tpcs migrate: failed: ${(err as Error).message}`);
      process.exitCode = 1;
    } finally {
      await store.close();
    }
  });
}
