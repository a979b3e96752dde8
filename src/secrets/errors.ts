/** What can go wrong with the key that encrypts endpoint secrets at rest. */

/** A secret had to be encrypted or decrypted, and no key is configured (PostgreSQL needs one). */
export class SecretsKeyMissingError extends Error {
  readonly code = 'secrets_key_missing';
  constructor(message: string) {
    super(message);
    this.name = 'SecretsKeyMissingError';
  }
}

/** A key given in the configuration (SECRETS_KEY, a key file, SECRETS_OLD_KEYS) is not a usable key. */
export class InvalidSecretsKeyError extends Error {
  readonly code = 'invalid_secrets_key';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSecretsKeyError';
  }
}

/**
 * The database holds secrets encrypted under keys that are not configured: the process refuses to
 * start rather than fail every delivery (or, worse, sign with garbage).
 */
export class SecretsKeyMismatchError extends Error {
  readonly code = 'secrets_key_mismatch';
  constructor(message: string) {
    super(message);
    this.name = 'SecretsKeyMismatchError';
  }
}

/**
 * A stored value could not be decrypted: its key is not configured, it was altered, or it was moved
 * from another row (the row it belongs to is bound into the ciphertext).
 */
export class SecretDecryptionError extends Error {
  readonly code = 'secret_decryption_failed';
  constructor(message: string) {
    super(message);
    this.name = 'SecretDecryptionError';
  }
}
