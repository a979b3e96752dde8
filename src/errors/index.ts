/**
 * The project's one error vocabulary, spoken by the service's API, the receiver kit and the CLI:
 * the error codes and the HTTP status of each, the error body `{error: {code, message, details?}}`,
 * and the problem (`{path, message}`, the path a JSON path like `$.data.reasons[0].code`) that a 400
 * lists in `details.problems`. It imports nothing, so the runtime-agnostic receiver core can use it.
 *
 * @example
 * import { ERROR_STATUS, errorBody, jsonPath } from '../errors/index.js';
 * const body = errorBody('validation_failed', 'The request body is invalid', {
 *   problems: [{ path: jsonPath(['property_details', 0, 'property_ref']), message: 'Required' }],
 * });
 * ERROR_STATUS[body.error.code]; // 400
 */

/**
 * Every error code, and its HTTP status: the one place that decides a status (callers name a code,
 * never a bare number). Codes are stable; clients branch on the code, not on the message.
 */
export const ERROR_STATUS = {
  /** A malformed request: not JSON, an unusable query parameter, a cursor the API did not give out. */
  bad_request: 400,
  /** The API: a part of the request failed its schema, or the body repeats a key; `details.problems` lists each problem. */
  validation_failed: 400,
  /** The receiver: the event failed the contract; `details.problems` lists each problem. Permanent for the sender. */
  invalid_payload: 400,
  /** The receiver: the body could not be read (the client went away mid-upload). */
  unreadable_body: 400,
  /** The API: a missing or wrong bearer token (answered with `WWW-Authenticate: Bearer`). */
  unauthorized: 401,
  /** The receiver: a missing, wrong or expired signature. 401, not 400, so the sender retries and a fixed secret recovers. */
  invalid_signature: 401,
  /** No such route, or no such thing (another partner's ids included). */
  not_found: 404,
  /** The path exists with other methods, listed in `Allow`. */
  method_not_allowed: 405,
  conflict: 409,
  /**
   * The API: the partner already has as many webhook endpoints as it may (`ENDPOINTS_PER_PARTNER`). 409,
   * not 422: the request is valid, it conflicts with the partner's endpoints as they are now; deleting
   * one makes the same request succeed.
   */
  endpoint_limit_reached: 409,
  /**
   * The API: another webhook endpoint of the partner already has this URL (as stored, normalised);
   * `details.endpoint_id` names it. Change or delete that one instead; other partners may use the URL.
   */
  endpoint_exists: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  /** The API: an `Idempotency-Key` sent again with another body. */
  idempotency_key_reused: 422,
  /** Answered with `Retry-After` when the wait is known. */
  rate_limited: 429,
  /** A bug on the answering side; never caused by what a client sent (fuzz tests hold both ends to that). */
  internal: 500,
  /**
   * The API: something it needs (the database, the delivery queue) does not answer, or not within
   * `DATABASE_TIMEOUT`; always with `Retry-After`. Nothing was promised: retry later.
   */
  unavailable: 503,
  /** The receiver: the inbox could not record the event; the sender must retry, nothing was promised. */
  inbox_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Whether `value` is one of the codes in {@link ERROR_STATUS}. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

/** The body of every error answer, from the API and from the receiver alike. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/**
 * The error body for `code`; `details` only when given.
 *
 * @example
 * errorBody('not_found', 'No webhook endpoint wh_1'); // { error: { code: 'not_found', message: 'No webhook endpoint wh_1' } }
 */
export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/**
 * One thing wrong with a request or a payload, as listed in `details.problems`.
 *
 * @example
 * const p: Problem = { path: '$.data.status', message: 'data.status must be "APPROVED" or "REJECTED", but is the string "PENDING".' };
 */
export interface Problem {
  /** A JSON path to the offending value: `$` for the whole document, e.g. `$.data.reasons[0].code`. */
  path: string;
  /** A sentence for a developer, naming the field and saying what was expected and found. */
  message: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Formats path segments as a JSON path: keys that are identifiers as `.key`, others as `["a key"]`,
 * array indexes as `[0]`.
 *
 * @example
 * jsonPath(['data', 'reasons', 0, 'code']); // '$.data.reasons[0].code'
 * jsonPath(['a/b']); // '$["a/b"]'
 * jsonPath([]); // '$'
 */
export function jsonPath(segments: readonly PropertyKey[]): string {
  let out = '$';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment)) out += `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}
