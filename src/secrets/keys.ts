/**
 * The keys that encrypt endpoint secrets at rest. A key is 32 random bytes, written as base64 (44
 * characters) or hex (64); `openssl rand -base64 32` makes one. From it two values are derived with
 * HKDF-SHA256: the AES-256-GCM key itself and an 8-character key id that every encrypted value
 * carries, so that a value says which key opens it (a rotation reads with the old key and writes with
 * the new) and a wrong key is recognised before anything is decrypted.
 */
import { createSecretKey, hkdfSync, type KeyObject, randomBytes } from 'node:crypto';
import { InvalidSecretsKeyError } from './errors.js';

/** Bytes of key material. */
export const KEY_BYTES = 32;
/** Characters of a key id (6 bytes, base64url). */
export const KEY_ID_LENGTH = 8;

/** One key: its id and the AES-256-GCM key derived from it. */
export interface SecretsKey {
  readonly id: string;
  readonly aes: KeyObject;
}

/**
 * The bytes of a key written as base64 (standard or URL alphabet, padded or not) or hex; throws
 * {@link InvalidSecretsKeyError} for anything that is not exactly 32 bytes. `what` names the key in
 * the message, never its value.
 *
 * @example
 * keyBytes('3q2+7w…=', 'SECRETS_KEY').length; // 32
 */
export function keyBytes(text: string, what = 'the secrets key'): Buffer {
  const t = text.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) bytes = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(t)) bytes = Buffer.from(t, 'base64');
  if (bytes?.length !== KEY_BYTES) {
    throw new InvalidSecretsKeyError(
      `${what} must be ${KEY_BYTES} bytes written as base64 (44 characters) or hex (64 characters); make one with: openssl rand -base64 32`,
    );
  }
  return bytes;
}

/** The key from its text (see {@link keyBytes}). */
export function parseKey(text: string, what?: string): SecretsKey {
  return deriveKey(keyBytes(text, what));
}

function deriveKey(material: Buffer): SecretsKey {
  const derive = (info: string, length: number) =>
    Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), info, length));
  return {
    id: derive('tpcs secrets v1 key id', 6).toString('base64url'),
    aes: createSecretKey(derive('tpcs secrets v1 aes-256-gcm', 32)),
  };
}

/** A new random key, as the text a key file or `SECRETS_KEY` holds. */
export function generateKeyText(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** The key new values are encrypted with, and every key values may be decrypted with. */
export class Keyring {
  readonly current: SecretsKey;
  readonly #byId = new Map<string, SecretsKey>();

  /** `old` keys only decrypt (values written before a rotation); `current` also encrypts. */
  constructor(current: SecretsKey, old: readonly SecretsKey[] = []) {
    this.current = current;
    for (const key of [current, ...old]) if (!this.#byId.has(key.id)) this.#byId.set(key.id, key);
  }

  /** The key with this id, if configured. */
  get(id: string): SecretsKey | undefined {
    return this.#byId.get(id);
  }

  /** The ids of every key, the current one first. */
  get ids(): string[] {
    return [...this.#byId.keys()];
  }
}
