/**
 * Every answer the receiver gives that is not a 200, as one map from code to HTTP status (tRPC-style),
 * so adapters, the `tpcs receive` service and the docs agree on what each status means.
 */
export const RECEIVER_ERRORS = {
  /** The body failed the contract; `details.problems` says where and why. Permanent for the sender. */
  invalid_payload: 400,
  /** The body could not be read (the client went away mid-upload). */
  unreadable_body: 400,
  /** Missing, wrong or expired signature. 401, not 400, so the sender retries and a fixed secret recovers. */
  invalid_signature: 401,
  /** `tpcs receive` only: a query parameter or path segment that cannot be used. */
  invalid_request: 400,
  /** `tpcs receive` only: no such route, or no status held for that third party. */
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  /** The inbox could not record the event; the sender must retry, nothing was promised. */
  inbox_unavailable: 503,
  /** A bug in the receiver. Never caused by what a client sent (the fuzz test holds us to that). */
  internal_error: 500,
} as const;

export type ReceiverErrorCode = keyof typeof RECEIVER_ERRORS;

/** The JSON error shape used everywhere in the project: `{error: {code, message, details?}}`. */
export interface ErrorBody {
  error: { code: ReceiverErrorCode; message: string; details?: Record<string, unknown> };
}
