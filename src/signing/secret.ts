import { randomBytes } from 'node:crypto';
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
const DEFAULT_SECRET_BYTES = 32;

// Standard alphabet only (not base64url): that is what the spec and both reference libraries use.
// Padding is optional because people copy secrets by hand and `=` is easy to lose.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Creates a new random secret: `whsec_` followed by the base64 of `byteLength` random bytes.
 *
 * @param byteLength key size in bytes, an integer from 24 to 64; defaults to 32 (256 bits, the HMAC-SHA256 output size)
 * @throws {SigningError} `invalid_secret_length` when `byteLength` is outside 24..64 or not an integer
 *
 * @example
 * ```ts
 * const secret = generateSecret(); // 'whsec_3q2+7w…' (32 random bytes)
 * ```
 */
export function generateSecret(byteLength: number = DEFAULT_SECRET_BYTES): string {
  if (!Number.isInteger(byteLength) || byteLength < MIN_SECRET_BYTES || byteLength > MAX_SECRET_BYTES) {
    throw new SigningError(
      'invalid_secret_length',
      `secret length must be an integer from ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes, got ${String(byteLength)}`,
    );
  }
  return SECRET_PREFIX + randomBytes(byteLength).toString('base64');
}

/**
 * Decodes a `whsec_…` secret into the HMAC key bytes.
 *
 * Strict on purpose: a secret that decodes "somehow" would sign with a key nobody else has, and
 * the receiver would answer 401 forever with no clue why. Error messages never echo the secret.
 *
 * @throws {SigningError} `invalid_secret` (no `whsec_` prefix, not canonical base64) or
 *   `invalid_secret_length` (fewer than 24 or more than 64 bytes)
 *
 * @example
 * ```ts
 * const key = parseSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'); // 24-byte Buffer
 * ```
 */
export function parseSecret(secret: string): Buffer {
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
  const key = Buffer.from(encoded, 'base64');
  // Node's decoder ignores stray padding bits, so several texts map to one key; insisting on the
  // canonical text means a secret compares equal only to itself.
  if (key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
    throw new SigningError('invalid_secret', 'secret is not canonical base64 (was it truncated or edited?)');
  }
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new SigningError(
      'invalid_secret_length',
      `secret must decode to ${MIN_SECRET_BYTES}..${MAX_SECRET_BYTES} bytes, got ${key.length}`,
    );
  }
  return key;
}
