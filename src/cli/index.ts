import { Command, CommanderError } from 'commander';
import { registerConformance } from './commands/conformance.js';
import { registerDecisions } from './commands/decisions.js';
import { registerEndpoints } from './commands/endpoints.js';
import { registerListen } from './commands/listen.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPartners } from './commands/partners.js';
import { registerReceive } from './commands/receive.js';
import { registerRecover } from './commands/recover.js';
import { registerReplay } from './commands/replay.js';
import { registerSecrets } from './commands/secrets.js';
import { registerServe } from './commands/serve.js';
import { registerTokens } from './commands/tokens.js';
import { registerTrigger } from './commands/trigger.js';
import { registerVerify } from './commands/verify.js';
import { registerWorker } from './commands/worker.js';
import { EXIT, EXIT_CODES_HELP, failure } from './options.js';

// `tpcs … | head` closes the pipe early: stop quietly, as a command killed by SIGPIPE would, not
// with an 'error' event's stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? EXIT.ok);
  });
}

const program = new Command('tpcs')
  .description(
    'Third Party Customer Status webhooks: the platform service, the receiver kit and the tools between them',
  )
  .version('0.1.0')
  // Before the commands are added, so that every command inherits it: commander's own usage errors
  // (unknown option, missing or invalid value) then exit 2 instead of its default 1.
  .exitOverride()
  .addHelpText(
    'after',
    `
Settings come from flags, then environment variables, then defaults; each command's --help lists
all three. Run \`tpcs <command> --help\` for examples.
${EXIT_CODES_HELP}`,
  );

registerServe(program);
registerMigrate(program);
registerReceive(program);
registerWorker(program);
registerTrigger(program);
registerVerify(program);
registerConformance(program);
registerListen(program);
registerReplay(program);
registerRecover(program);
registerPartners(program);
registerDecisions(program);
registerEndpoints(program);
registerTokens(program);
registerSecrets(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; commander has already printed any error message.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    // Not from a command's action (those report their own): still one line, never a stack trace.
    const { line, code } = failure(commandName(process.argv), error);
    console.error(line);
    process.exitCode = code;
  }
}

/** The command named on the command line (`partners create`), for the error line. */
function commandName(argv: readonly string[]): string {
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  const first = program.commands.find((c) => c.name() === words[0]);
  const second = first?.commands.find((c) => c.name() === words[1]);
  return [first?.name(), second?.name()].filter(Boolean).join(' ');
}
