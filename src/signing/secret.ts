import { randomBytes } from 'node:crypto';
import { SigningError } from './errors.js';
import {
  checkSecretKey,
  MAX_SECRET_BYTES,
  MIN_SECRET_BYTES,
  SECRET_PREFIX,
  secretBase64,
} from './secret-text.js';

export { MAX_SECRET_BYTES, MIN_SECRET_BYTES, SECRET_PREFIX } from './secret-text.js';

const DEFAULT_SECRET_BYTES = 32;

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
  const encoded = secretBase64(secret);
  const key = Buffer.from(encoded, 'base64');
  checkSecretKey(encoded, key.toString('base64'), key.length);
  return key;
}
