import { createHmac, type KeyObject } from 'node:crypto';

export { idProblem, MAX_ID_LENGTH, MAX_TIMESTAMP_DIGITS } from './message.js';

/**
 * Base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`, the `v1` signature without its prefix.
 *
 * The body goes to the HMAC as it is: bytes are never decoded to text (which would mangle invalid
 * UTF-8), and a string body is hashed as its UTF-8 encoding. `timestamp` is the header text, so
 * the receiver signs exactly what it received.
 */
export function signatureOf(
  key: Buffer | KeyObject,
  id: string,
  timestamp: string,
  body: Uint8Array | string,
): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
}
