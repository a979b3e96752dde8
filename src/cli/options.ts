/**
 * How every `tpcs` command takes its options: its settings from the one table (src/config), plus its
 * own arguments, all read the same way (flag, then environment variable, then default, through the
 * option's schema) and all shown by `--help` as `(default: 8080, env: PORT)`. Invalid values are
 * usage errors: one line each on stderr, and exit code 2.
 */
import { type Command, Option } from 'commander';
import {
  type CommandName,
  type FlagValue,
  type OptionSpec,
  type OptionValues,
  readOptions,
  type SettingValues,
  settingsOf,
} from '../config/index.js';
import { boolean, text } from '../config/values.js';

/**
 * The exit codes scripts can rely on.
 *
 * @example
 * process.exitCode = ok ? EXIT.ok : EXIT.failed;
 */
export const EXIT = {
  /** Everything asked for was done and every check passed. */
  ok: 0,
  /** A check failed, or the other side refused the request (or could not be reached). */
  failed: 1,
  /** The command line or the environment is wrong: nothing was attempted. */
  usage: 2,
} as const;

/** Thrown by a command for a problem with how it was called; `tpcs` prints it and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A command's own options: what to do this time, so flags only (settings are in src/config). */
export type Arguments = Readonly<Record<string, Omit<OptionSpec, 'env'>>>;

/**
 * `--json`: print JSON instead of text. An argument like any other (read the one way), without a value.
 *
 * @example
 * const ARGUMENTS = { json: jsonFlag('print the answer as JSON') } as const satisfies Arguments;
 */
export function jsonFlag<const D extends string>(description: D) {
  return { flag: '--json', description, schema: boolean } as const;
}

/** `--customer-id <id>`, required: the partner an operator command acts on. */
export const PARTNER_ARGUMENT = {
  flag: '--customer-id <id>',
  description: "the partner's customer_id",
  schema: text('a customer_id'),
  required: true,
} as const;

/** `--webhook <id>`, required: the endpoint a partner command acts on. */
export const WEBHOOK_ARGUMENT = {
  flag: '--webhook <id>',
  description: 'the webhook endpoint id',
  schema: text('an endpoint id'),
  required: true,
} as const;

/** What a command's action receives: its settings and its arguments, read and checked. */
export type CommandValues<C extends CommandName, A extends Arguments> = SettingValues<C> & OptionValues<A>;

/** The text appended to every command's `--help`: the exit codes. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  done; every check passed
  1  a check failed, or the request was refused or could not be sent
  2  usage error: a flag or environment variable is missing or invalid`;

/**
 * Adds command `name`'s arguments, then its settings, as commander options described with their
 * default and environment variable. The values are read by {@link commandAction}.
 *
 * @example
 * addOptions(program.command('worker'), 'worker').action(commandAction('worker', {}, work));
 */
export function addOptions(command: Command, name: CommandName, args: Arguments = {}): Command {
  for (const spec of Object.values(optionSpecs(name, args))) {
    const option = new Option(spec.flag, helpText(spec));
    // Occurrences are kept as text and read later, with everything else (flag > env > default).
    if (spec.repeatable)
      option.argParser((raw: string, previous: string[] | undefined) => [...(previous ?? []), raw]);
    command.addOption(option);
  }
  return command;
}

/**
 * The action of command `name`: reads its settings and arguments (every problem at once, each a line
 * on stderr, exit 2), then runs `action`. A {@link UsageError} thrown by it also exits 2; any other
 * error (the service unreachable, a file unreadable mid-way) exits 1. The action itself sets
 * `process.exitCode` for ordinary outcomes.
 *
 * @example
 * command.action(commandAction('trigger', ARGUMENTS, async (values) => { … }));
 */
export function commandAction<C extends CommandName, const A extends Arguments>(
  name: C,
  args: A,
  action: (values: CommandValues<C, A>) => Promise<void>,
): (options: Record<string, unknown>) => Promise<void> {
  const specs = optionSpecs(name, args);
  return async (options) => {
    const flags = Object.fromEntries(
      Object.entries(specs).map(([key, spec]) => [key, options[new Option(spec.flag).attributeName()]]),
    ) as Record<string, FlagValue>;
    const read = readOptions(specs, flags, process.env);
    if (!read.ok) {
      for (const problem of read.problems) console.error(`tpcs ${name}: error: ${problem}`);
      process.exitCode = EXIT.usage;
      return;
    }
    try {
      await action(read.values as CommandValues<C, A>);
    } catch (error) {
      const usage = error instanceof UsageError;
      console.error(`tpcs ${name}: ${usage ? 'error: ' : ''}${(error as Error).message}`);
      process.exitCode = usage ? EXIT.usage : EXIT.failed;
    }
  };
}

/** The arguments, then the settings, of a command. */
function optionSpecs(name: CommandName, args: Arguments): Record<string, OptionSpec> {
  const settings = settingsOf(name);
  const both = Object.keys(args).filter((key) => key in settings);
  if (both.length > 0) throw new Error(`tpcs ${name}: ${both.join(', ')} is both an argument and a setting`);
  return { ...args, ...settings };
}

/** The description with `(default: …, env: …)`, worded as commander words its own. */
function helpText(spec: OptionSpec): string {
  // A required option's default is never used: what it would be is for the commands that may omit it.
  const shownDefault = spec.required ? undefined : (spec.defaultLabel ?? spec.default);
  const extra = [
    ...(shownDefault === undefined ? [] : [`default: ${shownDefault}`]),
    ...(spec.env === undefined ? [] : [`env: ${spec.env}`]),
  ];
  return extra.length === 0 ? spec.description : `${spec.description} (${extra.join(', ')})`;
}
