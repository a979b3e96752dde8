/**
 * How the API words a validation problem: what was expected and what was given, the same way for the
 * body, the query string and the path. A wrong type reads "expected a string, got a number" and only
 * a field that is absent reads "Required". Values are named by their type (a body may hold personal
 * data, and any value may be long); only the short text of a query or path parameter is quoted.
 *
 * The rule-specific messages written in the schemas ("Must be at most 64 characters") are kept, and
 * told what was given when it is a size or a number.
 */
import type { z } from 'zod';
import { jsonPath, type Problem } from '../errors/index.js';

/** Where the values checked came from: a JSON body, or text (query string, path, headers). */
export interface IssueSource {
  /** The request part as the validator received it, to tell an absent field from a present one. */
  input?: unknown;
  /** Every value arrived as text (query string, path parameters, headers): short ones are quoted. */
  text?: boolean;
}

/** How zod's `expected` names a type, as a message says it. */
const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
  bigint: 'an integer',
  date: 'a date',
  nan: 'NaN',
  never: 'nothing (leave the field out)',
  undefined: 'nothing (leave the field out)',
  tuple: 'an array',
  record: 'an object',
  map: 'an object',
  set: 'an array',
};

/** The text of a parameter quoted, when short enough to repeat; a size otherwise. */
const MAX_QUOTED = 40;

/**
 * The JSON type of a value, as a message names what was given.
 *
 * @example
 * typeName(1234); // 'a number'
 * typeName(null); // 'null'
 */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return value === '' ? 'an empty string' : 'a string';
    case 'number':
      return Number.isNaN(value) ? 'not a number' : 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/** What was given, for a message: its type, or (text parts) the short text itself. */
function given(value: unknown, source: IssueSource): string {
  if (source.text) {
    if (Array.isArray(value)) return `${value.length} values (the parameter is repeated)`;
    if (typeof value === 'string') {
      if (value === '') return 'an empty value';
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are not repeated back
      return value.length <= MAX_QUOTED && !/[\u0000-\u001f]/.test(value)
        ? JSON.stringify(value)
        : `text of ${value.length} characters`;
    }
  }
  return typeName(value);
}

/** A value's size or number, for "…, got 70 characters". */
function givenSize(value: unknown, source: IssueSource): string {
  if (source.text) return given(value, source);
  if (typeof value === 'string')
    return value.length === 0 ? 'an empty string' : plural(value.length, 'character');
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : plural(value.length, 'item');
  if (typeof value === 'number') return String(value);
  return typeName(value);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `"A" or "B"`, or `one of "A", "B", "C"`. */
function alternatives(values: readonly unknown[]): string {
  const shown = values.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
  if (shown.length === 1) return shown[0] ?? '';
  if (shown.length === 2) return shown.join(' or ');
  return `one of ${shown.join(', ')}`;
}

/** The value at `path` in `root`, and whether it is there at all. */
function valueAt(root: unknown, path: readonly PropertyKey[]): { present: boolean; value: unknown } {
  let current = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || typeof segment === 'symbol') {
      return { present: false, value: undefined };
    }
    if (!Object.hasOwn(current, segment)) return { present: false, value: undefined };
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return { present: current !== undefined, value: current };
}

/** A bound, as "at least 1" / "more than 0" / "at most 64" / "less than 10". */
function bound(kind: 'min' | 'max', limit: number | bigint, inclusive: boolean | undefined): string {
  if (kind === 'min') return inclusive === false ? `more than ${limit}` : `at least ${limit}`;
  return inclusive === false ? `less than ${limit}` : `at most ${limit}`;
}

/** What a size issue expected, in words: "at least 1 character", "at most 100". */
function expectedSize(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
  const words = issue.exact
    ? `exactly ${limit}`
    : bound(issue.code === 'too_small' ? 'min' : 'max', limit, issue.inclusive);
  const unit =
    issue.origin === 'string'
      ? 'character'
      : issue.origin === 'array' || issue.origin === 'set'
        ? 'item'
        : '';
  return unit === '' ? words : `${words} ${unit}${Number(limit) === 1 ? '' : 's'}`;
}

/** zod string formats, as a message names them. */
const FORMATS: Record<string, string> = {
  email: 'an email address',
  url: 'a URL',
  uuid: 'a UUID',
  datetime: 'an ISO 8601 date-time such as 2025-01-31T10:00:00Z',
  date: 'a date written YYYY-MM-DD',
  time: 'a time written HH:MM:SS',
  regex: 'text in the documented format',
};

/**
 * zod's own messages, made to say what was expected: pass as the `error` of a parse. Messages the
 * schemas write win over it (zod asks this map only when the schema has none).
 *
 * @example
 * schema.safeParse(data, { reportInput: true, error: defaultIssueMessage });
 */
export function defaultIssueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'too_small':
    case 'too_big':
      return `expected ${expectedSize(issue as z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig)}`;
    case 'invalid_format': {
      const format = String(issue.format);
      return `expected ${FORMATS[format] ?? `text in the ${format} format`}`;
    }
    case 'not_multiple_of':
      return `expected a multiple of ${String(issue.divisor)}`;
    case 'invalid_key':
      return 'expected a valid key';
    case 'custom':
      return 'Invalid value';
    default:
      return undefined;
  }
}

/**
 * One zod issue → its problems (an unknown-keys issue or a union gives several), each at its JSON path.
 *
 * @example
 * issueProblems({ code: 'invalid_type', expected: 'string', path: ['customer_id'], input: 1234, message: '' }, { input: { customer_id: 1234 } });
 * // [{ path: '$.customer_id', message: 'expected a string, got a number' }]
 */
export function issueProblems(issue: z.core.$ZodIssue, source: IssueSource = {}): Problem[] {
  const path = jsonPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const unknown = source.text ? 'Unknown parameter' : 'Unknown field';
    return issue.keys.map((key) => ({ path: jsonPath([...issue.path, key]), message: unknown }));
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0 && issue.discriminator === undefined) {
    return unionProblems(issue, source);
  }
  const at = located(issue, source);
  const one = (message: string): Problem[] => [{ path, message }];
  switch (issue.code) {
    case 'invalid_type': {
      // A schema's own message is kept beside "Required" (e.g. "REJECTED needs one or more reasons"),
      // and for a field that must be left out; any other wrong type is named as such.
      const own = isZodWording(issue.message) ? undefined : issue.message;
      if (!at.present) return one(own === undefined ? 'Required' : `Required (${own})`);
      if (own !== undefined && (issue.expected === 'never' || issue.expected === 'undefined'))
        return one(own);
      return one(
        `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${givenForType(issue, at.value, source)}`,
      );
    }
    case 'invalid_value':
      if (!at.present) return one('Required');
      return one(
        `expected ${alternatives(issue.values)}, got ${givenForValues(issue.values, at.value, source)}`,
      );
    case 'invalid_union': {
      // a discriminated union whose discriminator matches no option
      if (!at.present) return one('Required');
      const options = 'options' in issue ? (issue.options ?? []) : [];
      if (options.length === 0) return one(issue.message);
      return one(`expected ${alternatives(options)}, got ${givenForValues(options, at.value, source)}`);
    }
    case 'too_small':
    case 'too_big': {
      // the size zod measured, after a trim say; the text itself for a parameter
      const measured = !source.text && issue.input !== undefined ? issue.input : at.value;
      return one(withGiven(issue.message, at.present ? givenSize(measured, source) : 'nothing'));
    }
    default:
      return one(issue.message);
  }
}

/** Where the issue's value is: looked up in the request part when known (zod's `input` after a transform otherwise). */
function located(issue: z.core.$ZodIssue, source: IssueSource): { present: boolean; value: unknown } {
  if (source.input !== undefined) {
    const found = valueAt(source.input, issue.path);
    if (found.present) return found;
    // A transform may have moved it; a discriminator issue's input is the whole object, so not that.
    if (issue.code !== 'invalid_union' && issue.input !== undefined)
      return { present: true, value: issue.input };
    return found;
  }
  if (issue.code === 'invalid_union') return { present: false, value: undefined };
  return { present: issue.input !== undefined, value: issue.input };
}

/** "got a number", or for an integer check on a number, the number itself ("got 1.5"). */
function givenForType(issue: z.core.$ZodIssueInvalidType, value: unknown, source: IssueSource): string {
  if (!source.text && issue.expected === 'int' && typeof value === 'number') return String(value);
  return given(value, source);
}

/** For a choice: the short value when it has the right type (`"PENDING"`), its type otherwise. */
function givenForValues(values: readonly unknown[], value: unknown, source: IssueSource): string {
  if (source.text) return given(value, source);
  const sameType = values.some((v) => typeof v === typeof value && v !== null && value !== null);
  if (sameType && typeof value === 'string' && value.length <= MAX_QUOTED) return JSON.stringify(value);
  if (sameType && (typeof value === 'number' || typeof value === 'boolean')) return String(value);
  return typeName(value);
}

/** Whether a message is zod's own (or ours), not one a schema wrote. */
function isZodWording(message: string): boolean {
  return message === '' || message === 'Required' || /^(Invalid input|expected )/.test(message);
}

/** The message, followed by what was given unless it already says. */
function withGiven(message: string, what: string): string {
  if (/\bgot\b/.test(message)) return message;
  if (what === 'an empty string' && /empty/i.test(message)) return message;
  return `${message}, got ${what}`;
}

/**
 * A value no branch of a union took. When every branch refused its type, one problem lists the types
 * ("expected a string or null, got a number"); otherwise the problems of the branch that came closest
 * (fewest problems), at their full paths.
 */
function unionProblems(issue: z.core.$ZodIssueInvalidUnion, source: IssueSource): Problem[] {
  const rootTypes = issue.errors.map((branch) =>
    branch.length === 1 && branch[0]?.code === 'invalid_type' && branch[0].path.length === 0
      ? branch[0].expected
      : undefined,
  );
  if (rootTypes.every((t) => t !== undefined)) {
    const expected = [...new Set(rootTypes.map((t) => EXPECTED[t] ?? t))];
    const at = located(issue, source);
    const message = at.present
      ? `expected ${expected.join(' or ')}, got ${given(at.value, source)}`
      : 'Required';
    return [{ path: jsonPath(issue.path), message }];
  }
  // A branch that refused the value's type is the furthest off; among the others, the fewest problems.
  const distance = (i: number) => (rootTypes[i] === undefined ? (issue.errors[i]?.length ?? 0) : Infinity);
  const order = issue.errors.map((_, i) => i).sort((a, b) => distance(a) - distance(b));
  const closest = issue.errors[order[0] ?? 0] ?? [];
  return closest.flatMap((branchIssue) =>
    issueProblems({ ...branchIssue, path: [...issue.path, ...branchIssue.path] } as z.core.$ZodIssue, source),
  );
}

/**
 * A discriminated union stops at a discriminator that matches no option (`"status": 0`), so the
 * other fields of that object go unchecked. This checks them under each option in turn and returns
 * the issues of the option that comes closest, so that a client fixes them all in one go: the one
 * with the fewest fields it does not take at all, then the fewest issues.
 *
 * @example
 * issuesBesideDiscriminator({ status: 0, reasons: '' }, issues, parse);
 * // [{ code: 'invalid_type', expected: 'array', path: ['reasons'], … }] (from the REJECTED option)
 */
export function issuesBesideDiscriminator(
  data: unknown,
  issues: readonly z.core.$ZodIssue[],
  parse: (data: unknown) => readonly z.core.$ZodIssue[],
): z.core.$ZodIssue[] {
  const found: z.core.$ZodIssue[] = [];
  for (const issue of issues) {
    if (issue.code !== 'invalid_union' || issue.discriminator === undefined || !('options' in issue))
      continue;
    const at = jsonPath(issue.path);
    const parent = jsonPath(issue.path.slice(0, -1));
    const inside = (i: z.core.$ZodIssue) => {
      const path = jsonPath(i.path);
      return (
        path !== at && (parent === '$' || path.startsWith(`${parent}.`) || path.startsWith(`${parent}[`))
      );
    };
    const perOption = (issue.options ?? []).map((option) =>
      parse(withValueAt(data, issue.path, option)).filter(inside),
    );
    const distance = (issuesOf: readonly z.core.$ZodIssue[]) =>
      issuesOf.filter(refusesField).length * 1000 + issuesOf.length;
    const closest = [...perOption].sort((a, b) => distance(a) - distance(b))[0];
    if (closest) found.push(...closest);
  }
  return found;
}

/** An issue saying a field has no place here at all (another option's field). */
function refusesField(issue: z.core.$ZodIssue): boolean {
  return (
    issue.code === 'unrecognized_keys' ||
    (issue.code === 'invalid_type' && (issue.expected === 'never' || issue.expected === 'undefined'))
  );
}

/** A copy of `root` with `value` at `path` (plain JSON data, as a request part is). */
function withValueAt(root: unknown, path: readonly PropertyKey[], value: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  if (Array.isArray(root)) {
    const copy = [...root];
    copy[Number(head)] = withValueAt(root[Number(head)], rest, value);
    return copy;
  }
  const object = root !== null && typeof root === 'object' ? (root as Record<PropertyKey, unknown>) : {};
  return { ...object, [head]: withValueAt(object[head], rest, value) };
}
