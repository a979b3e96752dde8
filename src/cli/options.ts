/**
 * How every `tpcs` command reads its settings: a flag, then an environment variable, then a default,
 * all three shown by `--help` (commander prints `(default: 8080, env: PORT)` after each option).
 * Invalid values are usage errors: a clear message on stderr and exit code 2.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseSecret } from '../signing/index.js';

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

/** Turns one raw text (from a flag or the environment) into a value, or throws InvalidArgumentError. */
export type Parse<T> = (raw: string) => T;

/** One setting: its flag, environment variable and default, and how its text is read. */
export interface SettingSpec<T> {
  /** Commander flags, e.g. `-p, --port <n>`. */
  flags: string;
  description: string;
  /** The environment variable read when the flag is absent. */
  env?: string;
  /** The value when neither flag nor environment gives one. */
  default?: T;
  /** How the default is shown in `--help` when its value would read badly. */
  defaultLabel?: string;
  parse?: Parse<T>;
  /** The option must be given (by flag or environment). */
  required?: boolean;
}

/**
 * A commander option reading flag > env > default, with the value parsed (and checked) from either
 * source. An empty environment variable counts as unset, as in the service's configuration.
 *
 * @example
 * command.addOption(setting({ flags: '-p, --port <n>', description: 'port', env: 'PORT', default: 8080, parse: port }));
 */
export function setting<T>(spec: SettingSpec<T>): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.env !== undefined) option.env(spec.env);
  if (spec.default !== undefined) option.default(spec.default, spec.defaultLabel);
  const parse = spec.parse;
  if (parse !== undefined) {
    option.argParser((raw: string) => {
      if (raw.trim() === '' && spec.default !== undefined) return spec.default;
      return parse(raw);
    });
  }
  if (spec.required) option.makeOptionMandatory();
  return option;
}

/** A TCP port, 0 to 65535 (0: any free port). */
export const port: Parse<number> = (raw) => {
  const text = raw.trim();
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new InvalidArgumentError('expected a port number from 0 to 65535.');
  }
  return Number(text);
};

/** An integer of at least `min`. */
export function integer(min: number): Parse<number> {
  return (raw) => {
    const text = raw.trim();
    if (!/^-?\d{1,15}$/.test(text) || Number(text) < min) {
      throw new InvalidArgumentError(`expected an integer of at least ${min}.`);
    }
    return Number(text);
  };
}

/** One of a fixed list of words, case-insensitive; returned as written in `values`. */
export function oneOf<const V extends string>(values: readonly V[]): Parse<V> {
  return (raw) => {
    const found = values.find((v) => v.toLowerCase() === raw.trim().toLowerCase());
    if (found === undefined) throw new InvalidArgumentError(`expected one of ${values.join(', ')}.`);
    return found;
  };
}

/** An absolute http(s) URL, without a trailing slash. */
export const httpUrl: Parse<string> = (raw) => {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new InvalidArgumentError('expected an absolute URL such as http://127.0.0.1:3000/webhook.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError('expected an http:// or https:// URL.');
  }
  return url.href.replace(/\/$/, '');
};

/** One `whsec_…` secret, checked now so a typo is a usage error rather than a failed signature. */
export const secret: Parse<string> = (raw) => {
  const text = raw.trim();
  try {
    parseSecret(text);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
  return text;
};

/**
 * Secrets from a repeatable flag or a comma-separated environment variable (rotation: several).
 * Used as `argParser`, so it receives the list so far.
 */
export function secretList(raw: string, previous: readonly string[] | undefined): string[] {
  const parts = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return [...(previous ?? []), ...parts.map(secret)];
}

/**
 * A point in time: ISO 8601 (`2025-01-31T10:00:00Z`), unix seconds, or a duration ago (`90m`, `2h`,
 * `3d`). Returned as a Date.
 */
export const pointInTime: Parse<Date> = (raw) => {
  const text = raw.trim();
  const ago = /^(\d{1,9})(s|m|h|d)$/.exec(text);
  if (ago) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(ago[1]) * unit);
  }
  if (/^\d{9,11}$/.test(text)) return new Date(Number(text) * 1000);
  const date = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError(
      'expected an ISO 8601 time (2025-01-31T10:00:00Z), unix seconds, or a duration ago (90m, 2h, 3d).',
    );
  }
  return date;
};

/** Collects a repeatable flag's values (for options without an environment variable). */
export function collect<T>(parse: Parse<T>): (raw: string, previous: T[] | undefined) => T[] {
  return (raw, previous) => [...(previous ?? []), parse(raw)];
}

/** The text appended to every command's `--help`: the exit codes. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  done; every check passed
  1  a check failed, or the request was refused or could not be sent
  2  usage error: a flag or environment variable is missing or invalid`;

/** `--api`: the running service (env `TPCS_API`). */
export const apiOption = (): Option =>
  setting({
    flags: '--api <url>',
    description: 'base URL of the running tpcs service',
    env: 'TPCS_API',
    default: 'http://127.0.0.1:8080',
    parse: httpUrl,
  });

/** `--token`: a partner's bearer token, or the admin token (env `TPCS_TOKEN`). */
export const tokenOption = (): Option =>
  setting<string>({
    flags: '--token <token>',
    description: "the partner's bearer token (tpcs_pk_…; the admin token also works)",
    env: 'TPCS_TOKEN',
    required: true,
  });

/** `--customer-id`: the partner whose API is called (env `TPCS_CUSTOMER_ID`). */
export const customerIdOption = (): Option =>
  setting<string>({
    flags: '--customer-id <id>',
    description: "the partner's customer_id",
    env: 'TPCS_CUSTOMER_ID',
    required: true,
  });

/** `--admin-token`: the operator's token (env `ADMIN_TOKEN`, as the service reads it). */
export const adminTokenOption = (): Option =>
  setting<string>({
    flags: '--admin-token <token>',
    description: 'the operator (admin) token',
    env: 'ADMIN_TOKEN',
    required: true,
  });

/**
 * Wraps a command's action: a {@link UsageError} becomes its message on stderr and exit code 2; any
 * other error (the service unreachable, a file unreadable mid-way) exit code 1. The action itself
 * sets `process.exitCode` for ordinary outcomes.
 *
 * @example
 * command.action(runAction('trigger', async (opts) => { … }));
 */
export function runAction<A extends unknown[]>(
  name: string,
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await action(...args);
    } catch (error) {
      const usage = error instanceof UsageError;
      console.error(`tpcs ${name}: ${usage ? 'error: ' : ''}${(error as Error).message}`);
      process.exitCode = usage ? EXIT.usage : EXIT.failed;
    }
  };
}

/** A setting whose value is checked elsewhere (the service's `loadConfig`): only mirrored as a flag. */
export interface EnvMirror {
  env: string;
  flags: string;
  description: string;
  default: string;
}

/**
 * Adds one flag per environment variable, described as `… (env PORT, default 8080)`. The values are
 * not parsed here: {@link envWithFlags} hands them to the configuration loader, which reports every
 * problem at once.
 *
 * @example
 * addEnvMirrors(command, CONFIG_SETTINGS);
 */
export function addEnvMirrors(command: Command, mirrors: readonly EnvMirror[]): Command {
  for (const m of mirrors) {
    command.addOption(new Option(m.flags, `${m.description} (env ${m.env}, default ${m.default})`));
  }
  return command;
}

/**
 * The environment with the flags given on the command line laid over it: flag > env > default.
 *
 * @example
 * const result = loadConfig(envWithFlags(process.env, command.opts(), CONFIG_SETTINGS));
 */
export function envWithFlags(
  env: NodeJS.ProcessEnv,
  options: Record<string, unknown>,
  mirrors: readonly EnvMirror[],
): NodeJS.ProcessEnv {
  const merged = { ...env };
  for (const m of mirrors) {
    const value = options[new Option(m.flags).attributeName()];
    if (value !== undefined) merged[m.env] = value === true ? 'true' : String(value);
  }
  return merged;
}
