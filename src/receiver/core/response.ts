import { type ErrorBody, RECEIVER_ERRORS, type ReceiverErrorCode } from '../errors.js';

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

export function errorResponse(
  code: ReceiverErrorCode,
  message: string,
  details?: Record<string, unknown>,
  headers?: Record<string, string>,
): ReceiverResponse {
  const body: ErrorBody = { error: details ? { code, message, details } : { code, message } };
  return jsonResponse(RECEIVER_ERRORS[code], body, headers);
}
