/**
 * What a `whsec_…` secret's text must be, shared by the `node:crypto` decoder (`parseSecret`) and
 * the Web Crypto one of the receiver's web entry. Imports nothing from Node.
 */
import { SigningError } from './errors.js';

/** Every Standard Webhooks secret starts with this, so a secret is recognisable in a config file. */
export const SECRET_PREFIX = 'whsec_';

/**
 * Key sizes we accept, in bytes. 24 is what Svix and the `standardwebhooks` tools generate (and the
 * spec's test vector uses); 64 is SHA-256's block size, beyond which HMAC hashes the key first and
 * a longer key adds nothing.
 */
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;

// Standard alphabet only (not base64url): that is what the spec and both reference libraries use.
// Padding is optional because people copy secrets by hand and `=` is easy to lose.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The base64 text after `whsec_`, once it is well-formed.
 *
 * @throws {SigningError} `invalid_secret` (no `whsec_` prefix, nothing after it, not standard base64)
 */
export function secretBase64(secret: string): string {
  if (typeof secret !== 'string' || !secret.startsWith(SECRET_PREFIX)) {
    throw new SigningError('invalid_secret', `secret must start with "${SECRET_PREFIX}"`);
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (encoded.length === 0) {
    throw new SigningError('invalid_secret', `secret has nothing after "${SECRET_PREFIX}"`);
  }
  if (!BASE64.test(encoded) || encoded.length % 4 === 1) {
    throw new SigningError(
      'invalid_secret',
      `secret must be "${SECRET_PREFIX}" followed by standard base64 (A-Z, a-z, 0-9, +, /), without spaces or line breaks`,
    );
  }
  return encoded;
}

/**
 * Checks the decoded key: `reencoded` is the key's own base64, and `byteLength` its size.
 *
 * Decoders ignore stray padding bits, so several texts map to one key; insisting on the canonical
 * text (with all its padding, or none) means a secret compares equal only to itself.
 *
 * @throws {SigningError} `invalid_secret` (not canonical) or `invalid_secret_length` (outside 24..64 bytes)
 */
export function checkSecretKey(encoded: string, reencoded: string, byteLength: number): void {
  // padding is optional, but when there is some it must be all of it: `/A=` (one `=` short) is
  // decoded by Buffer and refused by atob, so the two verifiers would disagree about it
  const canonical = encoded.endsWith('=') ? reencoded === encoded : reencoded.replace(/=+$/, '') === encoded;
  if (!canonical) {
    throw new SigningError('invalid_secret', 'secret is not canonical base64 (was it truncated or edited?)');
  }
  if (byteLength < MIN_SECRET_BYTES || byteLength > MAX_SECRET_BYTES) {
    throw new SigningError(
      'invalid_secret_length',
      `secret must decode to ${MIN_SECRET_BYTES}..${MAX_SECRET_BYTES} bytes, got ${byteLength}`,
    );
  }
}
