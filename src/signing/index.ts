/**
 * Standard Webhooks signing (https://www.standardwebhooks.com/): secrets, signing, verifying, with
 * rotation. Pure functions over `node:crypto`; no I/O.
 *
 * @example
 * ```ts
 * import { createVerifier, generateSecret, signWebhook } from './signing/index.js';
 *
 * const secret = generateSecret();
 * const body = '{"event_id":"1"}';
 * const headers = signWebhook({ id: '1', timestamp: Math.floor(Date.now() / 1000), body, secrets: [secret] });
 * createVerifier([secret])(headers, body); // { ok: true, id: '1', timestamp: … }
 * ```
 *
 * @module
 */
export { SigningError, type SigningErrorCode } from './errors.js';
export {
  type HeaderSource,
  ID_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  type WebhookHeaders,
} from './headers.js';
export { generateSecret, MAX_SECRET_BYTES, MIN_SECRET_BYTES, parseSecret, SECRET_PREFIX } from './secret.js';
export { type SignInput, signWebhook } from './sign.js';
export {
  createVerifier,
  DEFAULT_TOLERANCE_SECONDS,
  type Verifier,
  type VerifyFailure,
  type VerifyOptions,
  type VerifyResult,
  verifyWebhook,
} from './verify.js';
