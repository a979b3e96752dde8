import type { Command } from 'commander';

/** `tpcs serve`: placeholder until its issue lands. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve (not built yet)')
    .action(() => {
      console.log('tpcs serve: not built yet (see the open issues).');
    });
}
