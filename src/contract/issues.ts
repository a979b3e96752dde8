/**
 * Turns zod issues into problems a partner's developer can act on.
 *
 * Zod's default messages ("Invalid input: expected string, received number") name neither the
 * field nor the rule; these do. Rule-specific messages are written in `schema.ts` and kept as is.
 */
import type { z } from 'zod';
import { jsonPath, type Problem } from '../errors/index.js';
import { describeValue, problemAt } from './problems.js';

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  object: 'an object',
  array: 'an array',
  number: 'a number',
  boolean: 'a boolean',
};

/**
 * Converts one zod issue, parsed with `reportInput: true` so the received value is known.
 *
 * @example
 * issueToProblem(issue); // { path: '$.data.customer_id', message: 'data.customer_id is required.' }
 */
export function issueToProblem(issue: z.core.$ZodIssue): Problem {
  const path = jsonPath(issue.path);
  // JSON has no undefined: the field is missing, whatever rule tripped over it.
  if (issue.input === undefined && issue.code !== 'custom') return problemAt(path, 'is required');
  switch (issue.code) {
    case 'invalid_type': {
      if (path === '$') {
        return problemAt(path, `must be a JSON object (the event), but is ${describeValue(issue.input)}`);
      }
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      return problemAt(path, `must be ${expected}, but is ${describeValue(issue.input)}`);
    }
    case 'invalid_value': {
      const allowed = issue.values.map((v) => JSON.stringify(v));
      const expected = allowed.length === 1 ? `exactly ${allowed[0]}` : `one of ${allowed.join(', ')}`;
      return problemAt(path, `must be ${expected}, but is ${describeValue(issue.input)}`);
    }
    case 'too_small': {
      if (issue.origin === 'string') return problemAt(path, 'must not be empty');
      if (issue.origin === 'array') {
        return problemAt(path, 'must not be an empty array; leave the field out rather than sending []');
      }
      return problemAt(path, issue.message);
    }
    default:
      // invalid_format and custom: the schema wrote the message.
      return problemAt(path, issue.message);
  }
}
