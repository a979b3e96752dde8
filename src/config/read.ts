/**
 * Reading options the one way: the flag's text, else the environment variable's, else the default's,
 * each through the option's schema. Every problem is collected, one line each naming the flag, the
 * environment variable and what was expected, so that an operator fixes them all in one go.
 */
import type { z } from 'zod';
import type { TextSchema } from './values.js';

/** One option: a setting from the table, or a command's own argument (no environment variable). */
export interface OptionSpec {
  /** Commander flags, e.g. `--port <n>` or `-p, --port <port>`; `[bool]` makes the value optional. */
  readonly flag: string;
  readonly description: string;
  /** Reads the text of the flag, the environment variable or the default. */
  readonly schema: TextSchema;
  /** The environment variable read when the flag is not given (or empty). */
  readonly env?: string;
  /** The default, as text: it goes through the schema like any other value. */
  readonly default?: string;
  /** How `--help` and the README show the default when there is no plain one. */
  readonly defaultLabel?: string;
  /** The flag may be repeated; each occurrence is read, and the lists they give are joined. */
  readonly repeatable?: boolean;
  /** The option must be given, by flag or environment. */
  readonly required?: boolean;
  /** A secret (a key, a token): a problem with its value never repeats the value, which logs keep. */
  readonly sensitive?: boolean;
}

/** What a flag gave on the command line: its text, `true` for a bare `[bool]` flag, or every occurrence. */
export type FlagValue = string | boolean | readonly string[] | undefined;

/** Whether an option always has a value once read: it has a default or is required. */
type Always<S> = S extends { default: string } ? true : S extends { required: true } ? true : false;

/** The values read for `specs`, typed from each schema; optional ones may be undefined. */
export type OptionValues<Specs extends Record<string, OptionSpec>> = {
  -readonly [K in keyof Specs]: Always<Specs[K]> extends true
    ? z.output<Specs[K]['schema']>
    : z.output<Specs[K]['schema']> | undefined;
};

/** The values, or one line per problem. */
export type ReadResult<V> = { ok: true; values: V } | { ok: false; problems: string[] };

/** The long flag alone (`--port` of `-p, --port <port>`), as problems name it. */
export function longFlag(spec: Pick<OptionSpec, 'flag'>): string {
  return /--[\w-]+/.exec(spec.flag)?.[0] ?? spec.flag;
}

/**
 * Reads every option of `specs`: flag > environment > default, each through its schema. An empty
 * flag or environment variable counts as not given.
 *
 * @example
 * const result = readOptions({ port: { flag: '--port <n>', description: 'port', schema: port, env: 'PORT', default: '8080' } }, {}, process.env);
 * if (result.ok) result.values.port; // 8080, or PORT's value
 */
export function readOptions<const Specs extends Record<string, OptionSpec>>(
  specs: Specs,
  flags: Readonly<Record<string, FlagValue>>,
  env: Readonly<Record<string, string | undefined>>,
): ReadResult<OptionValues<Specs>> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(specs)) {
    const given = flagTexts(flags[key]);
    const envText = spec.env === undefined ? undefined : env[spec.env]?.trim() || undefined;
    const flag = longFlag(spec);
    const alsoEnv = spec.env === undefined ? '' : ` (env ${spec.env})`;
    const shown = (text: string): string =>
      spec.sensitive ? `(${text.length} characters, not shown)` : `'${text}'`;
    if (given !== undefined) {
      // Several occurrences of a flag that is not repeatable: the last one counts, as in any CLI.
      const texts = spec.repeatable ? given : given.slice(-1);
      const parsed: unknown[] = [];
      for (const text of texts) {
        const result = spec.schema.safeParse(text);
        if (result.success) parsed.push(result.data);
        else problems.push(`${flag} ${shown(text)} is invalid${alsoEnv}: ${message(result.error)}`);
      }
      values[key] = spec.repeatable ? parsed.flat() : parsed[0];
    } else if (envText !== undefined) {
      const result = spec.schema.safeParse(envText);
      if (result.success) values[key] = result.data;
      else problems.push(`${spec.env}=${shown(envText)} is invalid (flag ${flag}): ${message(result.error)}`);
    } else if (spec.default !== undefined) {
      const result = spec.schema.safeParse(spec.default);
      if (result.success) values[key] = result.data;
      else problems.push(`the default of ${flag}, '${spec.default}', is invalid: ${message(result.error)}`);
    } else if (spec.required) {
      problems.push(`${flag} is required${alsoEnv}: ${spec.description}`);
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, values: values as OptionValues<Specs> };
}

/** The texts a flag gave, or undefined when it was not given (or given empty). */
function flagTexts(value: FlagValue): string[] | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return ['true'];
  const texts = (typeof value === 'string' ? [value] : [...value]).filter((t) => t.trim() !== '');
  return texts.length > 0 ? texts : undefined;
}

/** The first issue's message: the schemas word theirs as `expected …`. */
function message(error: z.ZodError): string {
  return error.issues[0]?.message ?? 'invalid value';
}
