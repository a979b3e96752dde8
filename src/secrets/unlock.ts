/**
 * Where the key comes from, and the start-up step that gives a storage's {@link SecretBox} its keys:
 *
 * 1. `SECRETS_KEY`, else the file `SECRETS_KEY_FILE` names, else (SQLite on a file) the key file
 *    beside the database, `<database>.key`, generated 0600 on first start; `sqlite::memory:` gets a
 *    random key for the process. PostgreSQL has no such default: several processes on several
 *    machines must share one key, so it is configuration (`tpcs serve` and `tpcs worker` refuse to
 *    start without one); opened without a key, the storage works but every secret read or write throws.
 * 2. Every key id found in the database must be configured, or the start fails naming the ids.
 * 3. Values still in plaintext (stored before this version) are encrypted under the current key.
 */
import type { SecretBox } from './box.js';
import { InvalidSecretsKeyError } from './errors.js';
import { readKeyFile, restrictToOwner, writeNewPrivateFile } from './files.js';
import { generateKeyText, Keyring, parseKey, type SecretsKey } from './keys.js';
import { checkStoredKeys, type SecretCounts, type StoredSecrets, sealPlaintext } from './stored.js';

/** The key settings, as read by the CLI (each may be unset). */
export interface SecretsKeySource {
  /** `SECRETS_KEY`: the key, base64 or hex. */
  key?: string | undefined;
  /** `SECRETS_KEY_FILE`: a file holding the key (a Docker or Kubernetes secret). */
  keyFile?: string | undefined;
  /** `SECRETS_OLD_KEYS`: keys that only decrypt, during a rotation. */
  oldKeys?: readonly string[] | undefined;
}

/** Where the database is, which decides the default key. */
export type KeyHome =
  | { kind: 'sqlite-file'; file: string }
  | { kind: 'sqlite-memory' }
  | { kind: 'postgres' };

/** What the start-up step found and did. */
export interface SecretsStatus {
  /** The id of the key new values are encrypted under; undefined when no key is configured. */
  keyId: string | undefined;
  /** Where that key came from, in words (never the key). */
  from: string;
  /** The key file read (or generated), if any. */
  keyFile: string | undefined;
  /** This opening generated the key file: tell the operator to back it up. */
  generated: boolean;
  /** Values found in plaintext and encrypted by this opening. */
  encrypted: SecretCounts;
}

/** The key file used when no key is configured, beside a SQLite database file. */
export function defaultKeyFile(databaseFile: string): string {
  return `${databaseFile}.key`;
}

const NONE: SecretCounts = { endpointSecrets: 0, idempotentAnswers: 0, notificationSecrets: 0 };

interface Chosen {
  key: SecretsKey;
  from: string;
  keyFile?: string;
  /** A key generated now, to be written to `keyFile` once the database accepts it. */
  pendingText?: string;
}

/**
 * Reads the key as configured, checks it against the database, gives it to `box` and encrypts any
 * plaintext value left from before. Throws {@link InvalidSecretsKeyError} for an unusable setting and
 * `SecretsKeyMismatchError` when the database holds values under keys that are not configured.
 *
 * @example
 * const status = await unlockStoredSecrets(box, sqliteStoredSecrets(db), { key: process.env.SECRETS_KEY }, home);
 */
export async function unlockStoredSecrets(
  box: SecretBox,
  stored: StoredSecrets,
  source: SecretsKeySource,
  home: KeyHome,
): Promise<SecretsStatus> {
  const old = (source.oldKeys ?? []).map((text) => parseKey(text, 'a key of SECRETS_OLD_KEYS'));
  const chosen = chooseKey(source, home);
  if (!chosen)
    return {
      keyId: undefined,
      from: 'none (PostgreSQL without SECRETS_KEY)',
      keyFile: undefined,
      generated: false,
      encrypted: { ...NONE },
    };

  let { key } = chosen;
  let generated = false;
  const hint =
    chosen.pendingText === undefined
      ? `from ${chosen.from}`
      : `${chosen.keyFile} did not exist, so a new key was made: restore that file, or set SECRETS_KEY`;
  await checkStoredKeys(new Keyring(key, old), stored, hint);
  if (chosen.pendingText !== undefined && chosen.keyFile !== undefined) {
    generated = writeNewPrivateFile(chosen.keyFile, `${chosen.pendingText}\n`);
    if (!generated) {
      // another process starting on the same database wrote it first: its key is the key
      key = parseKey(readKeyFile(chosen.keyFile), `the key file ${chosen.keyFile}`);
      await checkStoredKeys(new Keyring(key, old), stored, `from ${chosen.from}`);
    }
  }
  box.setKeyring(new Keyring(key, old));
  const encrypted = await sealPlaintext(box, stored);
  return { keyId: key.id, from: chosen.from, keyFile: chosen.keyFile, generated, encrypted };
}

function chooseKey(source: SecretsKeySource, home: KeyHome): Chosen | undefined {
  if (source.key !== undefined && source.keyFile !== undefined) {
    throw new InvalidSecretsKeyError('Set SECRETS_KEY or SECRETS_KEY_FILE, not both');
  }
  if (source.key !== undefined) return { key: parseKey(source.key, 'SECRETS_KEY'), from: 'SECRETS_KEY' };
  if (source.keyFile !== undefined) {
    const text = readConfiguredKeyFile(source.keyFile);
    return {
      key: parseKey(text, `the key file ${source.keyFile}`),
      from: `SECRETS_KEY_FILE ${source.keyFile}`,
      keyFile: source.keyFile,
    };
  }
  if (home.kind === 'postgres') return undefined;
  if (home.kind === 'sqlite-memory') {
    return { key: parseKey(generateKeyText()), from: 'a random key for this in-memory database' };
  }
  const keyFile = defaultKeyFile(home.file);
  const from = `the key file ${keyFile}`;
  try {
    const text = readKeyFile(keyFile);
    restrictToOwner(keyFile);
    return { key: parseKey(text, from), from, keyFile };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const pendingText = generateKeyText();
  return { key: parseKey(pendingText), from, keyFile, pendingText };
}

function readConfiguredKeyFile(file: string): string {
  try {
    return readKeyFile(file);
  } catch (error) {
    throw new InvalidSecretsKeyError(`SECRETS_KEY_FILE ${file} cannot be read: ${(error as Error).message}`);
  }
}

/**
 * The warning an operator must see when this start generated the key file, or undefined.
 *
 * @example
 * const warning = secretsKeyWarning(storage.secrets);
 * if (warning) logger.warn(warning);
 */
export function secretsKeyWarning(status: SecretsStatus): string | undefined {
  if (!status.generated) return undefined;
  return (
    `Generated the secrets key ${status.keyFile} (mode 0600): endpoint signing secrets are stored encrypted with it. ` +
    'Back it up with the database (without it they cannot be read), or set SECRETS_KEY.'
  );
}
