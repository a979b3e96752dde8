import { ERROR_STATUS, type ErrorCode, errorBody } from '../../errors/index.js';

/** What the core answers; adapters copy it onto their runtime's response unchanged. */
export interface ReceiverResponse {
  status: number;
  headers: Record<string, string>;
  /** Always a JSON document. */
  body: string;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' } as const;

export function jsonResponse(
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): ReceiverResponse {
  return {
    status,
    headers: headers ? { ...JSON_HEADERS, ...headers } : { ...JSON_HEADERS },
    body: JSON.stringify(body),
  };
}

/**
 * An error answer in the project's one shape, `{error: {code, message, details?}}`, with the status
 * `ERROR_STATUS` gives its code (src/errors, shared with the service's API).
 *
 * @example
 * errorResponse('invalid_signature', 'No signature matches', { reason: 'no_match' }); // status 401
 */
export function errorResponse(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
  headers?: Record<string, string>,
): ReceiverResponse {
  return jsonResponse(ERROR_STATUS[code], errorBody(code, message, details), headers);
}
