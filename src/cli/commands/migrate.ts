import type { Command } from 'commander';
import { DEFAULTS } from '../../config.js';
import { createStore } from '../../storage/index.js';

/** `tpcs migrate`: applies the numbered migrations not yet applied to `DATABASE_URL`, and says which. */
export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply database migrations to DATABASE_URL (default sqlite:./data/tpcs.db)')
    .action(async () => {
      const databaseUrl = process.env.DATABASE_URL?.trim() || DEFAULTS.databaseUrl;
      let store: Awaited<ReturnType<typeof createStore>>;
      try {
        store = await createStore(databaseUrl);
      } catch (err) {
        console.error(`tpcs migrate: ${(err as Error).message}`);
        process.exit(1);
      }
      try {
        const applied = await store.migrate();
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
