import type { Command } from 'commander';

/** `tpcs receive`: placeholder until its issue lands. */
export function registerReceive(program: Command): void {
  program
    .command('receive')
    .description('receive (not built yet)')
    .action(() => {
      console.log('tpcs receive: not built yet (see the open issues).');
    });
}
