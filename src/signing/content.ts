import { createHmac, type KeyObject } from 'node:crypto';

/**
 * Longest `webhook-id` we sign or accept. Ids are event ids (UUIDs, `msg_…`); the cap keeps a
 * hostile header from making us hash megabytes before we even look at the signature.
 */
export const MAX_ID_LENGTH = 256;

/** Unix seconds fit in 15 digits for the next 30 million years and stay exact in a double. */
export const MAX_TIMESTAMP_DIGITS = 15;

// Visible ASCII (0x21-0x7e) except "." (0x2e), 1 to MAX_ID_LENGTH characters.
const VALID_ID = new RegExp(`^[!-\\-/-~]{1,${MAX_ID_LENGTH}}$`);

/**
 * Why an id cannot be used, or `undefined` when it can. Shared by signing and verifying so both
 * ends agree on what a message id is.
 *
 * A `.` is refused because the signed content is `id.timestamp.body`: with dots in the id, two
 * different (id, timestamp) pairs could produce the same content. Anything outside visible ASCII
 * is refused because the id travels in an HTTP header.
 */
export function idProblem(id: string): string | undefined {
  // The regex is the fast path for the usual good id; the loop below only explains a bad one.
  if (VALID_ID.test(id)) return undefined;
  if (id.length === 0) return 'webhook-id is empty';
  if (id.length > MAX_ID_LENGTH) return `webhook-id is longer than ${MAX_ID_LENGTH} characters`;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c === 0x2e) return 'webhook-id must not contain "."';
    if (c < 0x21 || c > 0x7e) return 'webhook-id must be visible ASCII characters without spaces';
  }
  return 'webhook-id is not valid'; // unreachable while the regex and the loop agree
}

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
