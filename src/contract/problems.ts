/**
 * How the contract words a problem with a payload: messages that name the field, values described
 * briefly, and a cap on how many a 400 lists. The problem itself (`{path, message}`) and its JSON path
 * belong to the project's one error vocabulary, `src/errors`.
 */
import type { Problem } from '../errors/index.js';

/**
 * A cap on the problems returned, so that a hostile body (say 50,000 broken reasons) cannot turn
 * the 400 answer into megabytes. The last problem then says how many were left out.
 */
export const MAX_PROBLEMS = 100;

/** How a message names the field at `path`: `data.status` for `$.data.status`, "The body" for `$`. */
export function fieldLabel(path: string): string {
  if (path === '$') return 'The body';
  return path.startsWith('$.') ? path.slice(2) : path.slice(1);
}

/** A problem whose message starts with the field's name, e.g. `data.status must …`. */
export function problemAt(path: string, predicate: string): Problem {
  return { path, message: `${fieldLabel(path)} ${predicate}.` };
}

/**
 * Names a received value briefly for a message, without serialising it deeply (a deeply nested
 * value would make `JSON.stringify` overflow the stack) and without echoing megabytes back.
 *
 * @example
 * describeValue(5); // 'the number 5'
 * describeValue(['x']); // 'an array'
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `the string ${quote(value)}`;
    case 'number':
      return `the number ${String(value)}`;
    case 'boolean':
      return `the boolean ${String(value)}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/** A JSON-quoted string, shortened when long. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/** Applies {@link MAX_PROBLEMS}. */
export function capProblems(problems: Problem[]): Problem[] {
  if (problems.length <= MAX_PROBLEMS) return problems;
  const kept = problems.slice(0, MAX_PROBLEMS - 1);
  kept.push({
    path: '$',
    message: `…and ${problems.length - kept.length} more problems, not listed; fix the ones above first.`,
  });
  return kept;
}
