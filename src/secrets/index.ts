/**
 * Endpoint signing secrets at rest: AES-256-GCM under a configured key (see box.ts for the format,
 * unlock.ts for where the key comes from, stored.ts for the encrypted columns and key rotation).
 */
export {
  isSealed,
  openAnswer,
  openDeliverySecrets,
  SecretBox,
  sealAnswer,
  sealedKeyId,
  secretContext,
} from './box.js';
export {
  InvalidSecretsKeyError,
  SecretDecryptionError,
  SecretsKeyMismatchError,
  SecretsKeyMissingError,
} from './errors.js';
export { ensurePrivateFile, PRIVATE_MODE, restrictSqliteSidecars } from './files.js';
export { generateKeyText, Keyring, keyBytes, parseKey, type SecretsKey } from './keys.js';
export {
  resealAll,
  type SealedColumn,
  type SecretCounts,
  type StoredSecrets,
  type StoredValue,
  sealPlaintext,
} from './stored.js';
export {
  defaultKeyFile,
  type KeyHome,
  type SecretsKeySource,
  type SecretsStatus,
  secretsKeyWarning,
  unlockStoredSecrets,
} from './unlock.js';
