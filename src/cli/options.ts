/**
 * How every `tpcs` command takes its options: its settings from the one table (src/config), plus its
 * own arguments, all read the same way (flag, then environment variable, then default, through the
 * option's schema) and all shown by `--help` as `(default: 8080, env: PORT)`. Invalid values are
 * usage errors: one line each on stderr, and exit code 2.
 */
import { type Command, Option } from 'commander';
import { z } from 'zod';
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
import { isStorageUnavailable } from '../storage/index.js';
import { ApiUnreachableError } from './api-client.js';

/**
 * The exit codes scripts can rely on, the same for every command (printed by each `--help`).
 *
 * @example
 * process.exitCode = ok ? EXIT.ok : EXIT.failed;
 */
export const EXIT = {
  /** Everything asked for was done and every check passed; a long-running command stopped by SIGINT or SIGTERM. */
  ok: 0,
  /**
   * The operation failed: a check failed, the other side refused the request, or it (the service, the
   * receiver, the database) could not be reached; a long-running command could not start.
   */
  failed: 1,
  /** The command line or the environment is wrong (an unknown flag, a missing or invalid value): nothing was attempted. */
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

/** An example endpoint id, as the API makes them (a UUID), for `--help`. */
export const EXAMPLE_WEBHOOK_ID = '3f6c2a9e-8b1d-4e7a-9c52-1d0b7e4f6a83';
/** An example delivery id (a UUID), for `--help`. */
export const EXAMPLE_DELIVERY_ID = '9a41d7c0-2e5b-4f18-8d3a-6b7c0e92f154';

/**
 * An id the API made: a UUID, so that a mistyped one is a usage error rather than a 404.
 *
 * @example uuid('a delivery id', EXAMPLE_DELIVERY_ID).parse('9A41D7C0-2E5B-4F18-8D3A-6B7C0E92F154') // lower case
 */
export function uuid(what: string, example: string) {
  return z
    .string()
    .trim()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, {
      error: `expected ${what}: a UUID such as ${example}`,
    })
    .transform((id) => id.toLowerCase());
}

/** `--webhook <id>`, required: the endpoint a partner command acts on. */
export const WEBHOOK_ARGUMENT = {
  flag: '--webhook <id>',
  description: 'the webhook endpoint id (a UUID, as GET …/webhooks lists them)',
  schema: uuid('a webhook endpoint id', EXAMPLE_WEBHOOK_ID),
  required: true,
} as const;

/** What a command's action receives: its settings and its arguments, read and checked. */
export type CommandValues<C extends CommandName, A extends Arguments> = SettingValues<C> & OptionValues<A>;

/** The text appended to every command's `--help`: the exit codes, one rule for every command. */
export const EXIT_CODES_HELP = `
Exit codes (the same for every tpcs command):
  0  done, and every check passed (a server: stopped by Ctrl-C or SIGTERM)
  1  the operation failed: a check failed, a request was refused, or the service, receiver or
     database could not be reached (a server: could not start); one line on stderr says why
  2  usage error: an unknown flag, or a flag or environment variable missing or invalid; nothing
     was attempted`;

/**
 * The one line `tpcs <command>:` prints for an error that ends a command, and the exit code: a
 * {@link UsageError} is a usage error (2); anything else is a failed operation (1), worded "cannot
 * reach …" when the service or the database did not answer.
 *
 * @example
 * const { line, code } = failure('replay', error); // 'tpcs replay: cannot reach the service at …', 1
 */
export function failure(name: string, error: unknown): { line: string; code: number } {
  const message = firstLine(error instanceof Error ? error.message : String(error));
  const tpcs = name === '' ? 'tpcs' : `tpcs ${name}`;
  if (error instanceof UsageError) return { line: `${tpcs}: error: ${message}`, code: EXIT.usage };
  if (!(error instanceof ApiUnreachableError) && isStorageUnavailable(error)) {
    return { line: `${tpcs}: cannot reach the database: ${message}`, code: EXIT.failed };
  }
  return { line: `${tpcs}: ${message}`, code: EXIT.failed };
}

/** Multi-line messages (a list of problems) are kept; only a trailing stack is cut. */
function firstLine(message: string): string {
  const stack = message.search(/\n\s+at /);
  return stack === -1 ? message : message.slice(0, stack);
}

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
 * error (the service unreachable, a file unreadable mid-way) exits 1, as {@link failure} words it.
 * The action itself sets `process.exitCode` for ordinary outcomes.
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
      const { line, code } = failure(name, error);
      console.error(line);
      process.exitCode = code;
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
