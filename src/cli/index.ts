import { Command } from 'commander';

const program = new Command('tpcs')
  .description(
    'Third Party Customer Status webhooks: the platform service, the receiver kit and the tools between them',
  )
  .version('0.1.0');

program
  .command('serve')
  .description('run the platform service (not yet available)')
  .action(() => {
    console.log('tpcs serve: the platform service is not built yet (see the open issues).');
  });

await program.parseAsync(process.argv);
