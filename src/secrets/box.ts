/**
 * Encryption at rest of endpoint signing secrets (and of the stored answers that contain them):
 * AES-256-GCM with a random 12-byte nonce per value, stored as text
 *
 *     v1:<key id>:<nonce, base64url>:<ciphertext and 16-byte tag, base64url>
 *
 * The associated data binds each value to its row (the endpoint for a signing secret, the partner and
 * key for an idempotent answer), so a value copied into another row does not decrypt: the database
 * cannot be edited into signing one partner's events with another's secret. Tampering, a missing key
 * and a moved value all throw {@link SecretDecryptionError}; nothing is ever returned unauthenticated.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretDecryptionError, SecretsKeyMissingError } from './errors.js';
import { KEY_ID_LENGTH, type Keyring } from './keys.js';

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Opened values kept per process (an entry is about 200 bytes). */
const OPENED_CACHE_SIZE = 10_000;
const SEALED = new RegExp(
  `^${VERSION}:([A-Za-z0-9_-]{${KEY_ID_LENGTH}}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]+)$`,
);

/** Whether a stored value is encrypted by a box (rather than plaintext written before encryption). */
export function isSealed(value: string): boolean {
  return value.startsWith(`${VERSION}:`);
}

/** The id of the key that encrypted a stored value, or undefined for plaintext. */
export function sealedKeyId(value: string): string | undefined {
  return isSealed(value) ? value.slice(VERSION.length + 1, VERSION.length + 1 + KEY_ID_LENGTH) : undefined;
}

/** What a value is bound to: the row it belongs to. */
export const secretContext = {
  /** An endpoint's signing secret. */
  endpoint: (endpointId: string): string => JSON.stringify(['endpoint_secrets', endpointId]),
  /** The stored answer of a partner's POST with an `Idempotency-Key`. */
  idempotentAnswer: (customerId: string, key: string): string =>
    JSON.stringify(['idempotency_keys', customerId, key]),
} as const;

/**
 * Encrypts and decrypts stored secrets with a {@link Keyring}. A box without keys (PostgreSQL opened
 * without `SECRETS_KEY`) opens the storage all the same, so migrations run, but throws
 * {@link SecretsKeyMissingError} the moment a secret is written or read.
 */
export class SecretBox {
  #keyring: Keyring | undefined;
  readonly #missing: string;
  /**
   * Values already opened, by context and stored text: the dispatcher reads an endpoint's secrets at
   * every claim, and a decryption costs about 5 µs against 0.2 for a lookup. The context is part of the
   * key, so a value moved to another row is still refused. Emptied when full or given other keys.
   */
  readonly #opened = new Map<string, string>();

  constructor(keyring?: Keyring, missing = 'No secrets key is configured: set SECRETS_KEY') {
    this.#keyring = keyring;
    this.#missing = missing;
  }

  /** Gives the box its keys; `openStorage` does this once, after checking them against the database. */
  setKeyring(keyring: Keyring): void {
    this.#keyring = keyring;
    this.#opened.clear();
  }

  /** The keys, or undefined while the box has none. */
  get keyring(): Keyring | undefined {
    return this.#keyring;
  }

  #keys(): Keyring {
    if (!this.#keyring) throw new SecretsKeyMissingError(this.#missing);
    return this.#keyring;
  }

  /**
   * Encrypts `plaintext` under the current key, bound to `context`.
   *
   * @example
   * const stored = box.seal('whsec_…', secretContext.endpoint('wh_01J…')); // 'v1:Ab3dEf9h:…:…'
   */
  seal(plaintext: string, context: string): string {
    const key = this.#keys().current;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.aes, nonce);
    cipher.setAAD(associatedData(key.id, context));
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}:${key.id}:${nonce.toString('base64url')}:${sealed.toString('base64url')}`;
  }

  /**
   * Decrypts a value {@link seal} made for the same `context`; throws {@link SecretDecryptionError}
   * when it cannot (key not configured, altered, bound to another row, or not encrypted at all).
   * `remember: false` keeps the plaintext out of the per-process cache (large, rarely read values).
   *
   * @example
   * const secret = box.open(stored, secretContext.endpoint(endpointId));
   */
  open(sealed: string, context: string, { remember = true }: { remember?: boolean } = {}): string {
    const keys = this.#keys();
    if (!remember) return this.#decrypt(keys, sealed, context);
    const cacheKey = `${context}\u0000${sealed}`;
    const cached = this.#opened.get(cacheKey);
    if (cached !== undefined) return cached;
    const plaintext = this.#decrypt(keys, sealed, context);
    if (this.#opened.size >= OPENED_CACHE_SIZE) this.#opened.clear();
    this.#opened.set(cacheKey, plaintext);
    return plaintext;
  }

  #decrypt(keys: Keyring, sealed: string, context: string): string {
    const parts = SEALED.exec(sealed);
    if (!parts) {
      const what = isSealed(sealed) ? 'is malformed' : 'is not encrypted';
      throw new SecretDecryptionError(`The stored value of ${describe(context)} ${what}`);
    }
    const [, keyId = '', nonce = '', body = ''] = parts;
    const key = keys.get(keyId);
    if (!key) {
      throw new SecretDecryptionError(
        `The stored value of ${describe(context)} was encrypted under key ${keyId}, which is not configured (configured: ${keys.ids.join(', ')}); set SECRETS_KEY, or SECRETS_OLD_KEYS during a rotation`,
      );
    }
    const bytes = Buffer.from(body, 'base64url');
    try {
      if (bytes.length < TAG_BYTES) throw new Error('too short');
      const decipher = createDecipheriv('aes-256-gcm', key.aes, Buffer.from(nonce, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(associatedData(keyId, context));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SecretDecryptionError(
        `The stored value of ${describe(context)} failed authentication under key ${keyId}: it was altered or belongs to another row`,
      );
    }
  }
}

/** A context in words for messages: `endpoint_secrets wh_…`. */
function describe(context: string): string {
  try {
    return (JSON.parse(context) as string[]).join(' ');
  } catch {
    return context;
  }
}

function associatedData(keyId: string, context: string): Buffer {
  return Buffer.from(`${VERSION}:${keyId}:${context}`, 'utf8');
}

/**
 * The claimed deliveries with their signing secrets decrypted. Throws {@link SecretDecryptionError}
 * rather than return a delivery that would be signed with garbage.
 */
export function openDeliverySecrets<D extends { endpointId: string; secrets: string[] }>(
  box: SecretBox,
  deliveries: D[],
): D[] {
  return deliveries.map((d) => {
    const context = secretContext.endpoint(d.endpointId);
    return { ...d, secrets: d.secrets.map((s) => box.open(s, context)) };
  });
}

/**
 * The stored answer of an idempotent POST, its body encrypted (an endpoint's creation or rotation
 * answers with the new secret, and every answer is treated alike so that none is forgotten).
 */
export function sealAnswer<A extends { body: string }>(
  box: SecretBox,
  customerId: string,
  key: string,
  a: A,
): A {
  return { ...a, body: box.seal(a.body, secretContext.idempotentAnswer(customerId, key)) };
}

/** The answer {@link sealAnswer} stored, decrypted; a plaintext body (stored before this version) as it is. */
export function openAnswer<A extends { body: string }>(
  box: SecretBox,
  customerId: string,
  key: string,
  a: A,
): A {
  if (!isSealed(a.body)) return a;
  // replays are rare and bodies may be large: not kept in the box's cache
  return {
    ...a,
    body: box.open(a.body, secretContext.idempotentAnswer(customerId, key), { remember: false }),
  };
}
