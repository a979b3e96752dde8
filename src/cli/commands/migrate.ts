import type { Command } from 'commander';

/** `tpcs migrate`: placeholder until its issue lands. */
export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('migrate (not built yet)')
    .action(() => {
      console.log('tpcs migrate: not built yet (see the open issues).');
    });
}
