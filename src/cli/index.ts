import { Command } from 'commander';
import { registerMigrate } from './commands/migrate.js';
import { registerReceive } from './commands/receive.js';
import { registerServe } from './commands/serve.js';
import { registerWorker } from './commands/worker.js';

const program = new Command('tpcs')
  .description(
    'Third Party Customer Status webhooks: the platform service, the receiver kit and the tools between them',
  )
  .version('0.1.0');

registerServe(program);
registerMigrate(program);
registerReceive(program);
registerWorker(program);

await program.parseAsync(process.argv);
