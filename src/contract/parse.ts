/**
 * The receiving side: raw body in, a typed event or every problem out. Never throws.
 */
import type { Problem } from '../errors/index.js';
import { issueToProblem } from './issues.js';
import { capProblems, problemAt } from './problems.js';
import {
  type ThirdPartyCustomerStatusEvent,
  thirdPartyCustomerStatusEventSchema,
  unsupportedMajorVersion,
} from './schema.js';
import { scanJson } from './strict-json.js';
import { decodeUtf8 } from './utf8.js';

/**
 * The outcome of parsing or validating a payload.
 *
 * @example
 * const result: ParseResult = parseEvent(body);
 * if (!result.ok) respond(400, result.problems);
 */
export type ParseResult =
  | { ok: true; event: ThirdPartyCustomerStatusEvent }
  | { ok: false; problems: Problem[] };

const BYTE_ORDER_MARK = '\uFEFF';
const ONLY_WHITESPACE = /^[ \t\n\r]*$/;

function fail(problems: Problem[]): ParseResult {
  return { ok: false, problems: capProblems(problems) };
}

/**
 * Parses a request body exactly as received: strict UTF-8, strict JSON (no duplicate keys, no
 * trailing data), then the event schema. Returns every problem found, each with a JSON path.
 *
 * A leading UTF-8 byte order mark is accepted and ignored: RFC 8259 (section 8.1) forbids sending
 * one but lets parsers ignore it, and refusing it would help nobody. The signature covers the raw
 * bytes, BOM included, so this leniency cannot hide a tampered body. Our builder never writes one.
 *
 * @example
 * const result = parseEvent(rawBody);
 * if (result.ok) console.log(result.event.data.status);
 * else console.log(result.problems); // [{ path: '$.data.status', message: '…' }]
 */
export function parseEvent(body: Uint8Array | string): ParseResult {
  try {
    let text: string;
    if (typeof body === 'string') {
      text = body.startsWith(BYTE_ORDER_MARK) ? body.slice(1) : body;
    } else {
      const decoded = decodeUtf8(body);
      if (!decoded.ok) {
        return fail([
          problemAt(
            '$',
            `is not valid UTF-8: the bytes starting at byte offset ${decoded.offset} do not form a character`,
          ),
        ]);
      }
      text = decoded.text;
    }
    if (ONLY_WHITESPACE.test(text)) {
      return fail([problemAt('$', 'is empty; it must be a JSON object (the event)')]);
    }

    const scan = scanJson(text);
    if (scan.syntaxError !== undefined) return fail([scan.syntaxError, ...scan.keyProblems]);

    const result = validateEvent(JSON.parse(text));
    if (scan.keyProblems.length === 0) return result;
    return fail(result.ok ? scan.keyProblems : [...scan.keyProblems, ...result.problems]);
  } catch {
    // Unreachable as far as the tests can tell; if a bug ever lands here, the sender still gets a
    // 400 with a message instead of the receiver crashing.
    return fail([problemAt('$', 'could not be validated (internal error in the validator)')]);
  }
}

/**
 * Validates a value that is already parsed JSON (no duplicate-key detection is possible then).
 * Returns every problem found; for a well-formed version of another major, only that problem,
 * since the rest of such a payload follows a contract this code does not know.
 *
 * @example
 * validateEvent({ event_id: '1' }).ok; // false: event_type, version, event_timestamp and data are required
 */
export function validateEvent(value: unknown): ParseResult {
  try {
    const result = thirdPartyCustomerStatusEventSchema.safeParse(value);
    if (result.success) return { ok: true, event: result.data };
    // Messages quote the received values, which zod only reports on request; asking for them on every
    // parse would take zod off its compiled fast path and more than double the cost of a valid event.
    const detailed = thirdPartyCustomerStatusEventSchema.safeParse(value, { reportInput: true });
    const issues = detailed.success ? result.error.issues : detailed.error.issues;
    let problems = issues.map(issueToProblem);
    if (isObject(value) && unsupportedMajorVersion(value.version) !== undefined) {
      problems = problems.filter((problem) => problem.path === '$.version');
    }
    return fail(problems);
  } catch {
    return fail([problemAt('$', 'could not be validated (internal error in the validator)')]);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
