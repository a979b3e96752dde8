/**
 * The encrypted columns, seen the same way on both databases: checking that every stored value's key
 * is configured, encrypting values stored in plaintext (before this version), and re-encrypting under
 * the current key (`tpcs secrets rotate-key`). Each dialect gives a {@link StoredSecrets} over its
 * tables (src/storage/sqlite/secrets.ts, src/storage/postgres/secrets.ts).
 */
import { type SecretBox, sealedKeyId } from './box.js';
import { SecretsKeyMismatchError } from './errors.js';
import type { Keyring } from './keys.js';

/** One stored value, with the row it is bound to. */
export interface StoredValue<Cursor> {
  /** Where the row is in the column's order (its primary key). */
  cursor: Cursor;
  /** What the value is bound to (see `secretContext`). */
  context: string;
  value: string;
}

/** An encrypted column, walked in primary key order. */
export interface SealedColumn<Cursor> {
  /**
   * Up to `limit` rows after `after` (from the start when undefined) whose value does not begin with
   * `skipPrefix`, in primary key order.
   */
  page(after: Cursor | undefined, skipPrefix: string, limit: number): Promise<StoredValue<Cursor>[]>;
  /**
   * Replaces values in one transaction, each only if it is still `from` (a concurrent write wins);
   * returns how many were replaced.
   */
  replace(changes: { cursor: Cursor; from: string; to: string }[]): Promise<number>;
}

/** Every encrypted column of a database. */
export interface StoredSecrets {
  /** `endpoint_secrets.secret`, bound to the endpoint. */
  readonly endpointSecrets: SealedColumn<unknown>;
  /** `idempotency_keys.body`, bound to the partner and the key. */
  readonly idempotentAnswers: SealedColumn<unknown>;
  /** `notification_settings.webhook_secret` (failure alerts), bound to the partner. */
  readonly notificationSecrets: SealedColumn<unknown>;
  /** The ids of the keys the stored values were encrypted under (plaintext values not counted). */
  keyIds(): Promise<string[]>;
  /** Runs after values were rewritten: SQLite scrubs the old bytes from its free pages and the WAL. */
  afterRewrite?(): Promise<void>;
}

/** How many values of each column an operation rewrote. */
export interface SecretCounts {
  endpointSecrets: number;
  idempotentAnswers: number;
  notificationSecrets: number;
}

const BATCH = 500;

/** Rewrites every value not beginning with `skipPrefix`, a batch per transaction. */
async function rewriteColumn<C>(
  column: SealedColumn<C>,
  skipPrefix: string,
  rewrite: (v: StoredValue<C>) => string,
): Promise<number> {
  let total = 0;
  let after: C | undefined;
  for (;;) {
    const rows = await column.page(after, skipPrefix, BATCH);
    if (rows.length === 0) return total;
    total += await column.replace(rows.map((r) => ({ cursor: r.cursor, from: r.value, to: rewrite(r) })));
    after = rows[rows.length - 1]?.cursor;
  }
}

async function rewriteAll(
  stored: StoredSecrets,
  skipPrefix: string,
  rewrite: (v: StoredValue<unknown>) => string,
): Promise<SecretCounts> {
  const counts = {
    endpointSecrets: await rewriteColumn(stored.endpointSecrets, skipPrefix, rewrite),
    idempotentAnswers: await rewriteColumn(stored.idempotentAnswers, skipPrefix, rewrite),
    notificationSecrets: await rewriteColumn(stored.notificationSecrets, skipPrefix, rewrite),
  };
  if (counts.endpointSecrets + counts.idempotentAnswers + counts.notificationSecrets > 0) {
    await stored.afterRewrite?.();
  }
  return counts;
}

/**
 * Encrypts every value still stored in plaintext (written before this version) under the current key;
 * `openStorage` runs it at each start with a key, so an upgraded database holds no plaintext secret
 * from its first start on. Returns how many were encrypted.
 */
export function sealPlaintext(box: SecretBox, stored: StoredSecrets): Promise<SecretCounts> {
  return rewriteAll(stored, 'v1:', (r) => box.seal(r.value, r.context));
}

/**
 * Re-encrypts every value not under the current key (reading it with the key it names, which must be
 * configured), and encrypts any plaintext one. Running it again finds nothing to do.
 */
export function resealAll(box: SecretBox, stored: StoredSecrets): Promise<SecretCounts> {
  const current = box.keyring?.current.id ?? '';
  return rewriteAll(stored, `v1:${current}:`, (r) =>
    box.seal(sealedKeyId(r.value) === undefined ? r.value : box.open(r.value, r.context), r.context),
  );
}

/**
 * Throws {@link SecretsKeyMismatchError} when a stored value was encrypted under a key the keyring
 * lacks: a process started with the wrong key stops here, before it decrypts (or fails to) anything.
 * `hint` says where the configured key came from, for the message.
 */
export async function checkStoredKeys(keyring: Keyring, stored: StoredSecrets, hint: string): Promise<void> {
  const unknown = (await stored.keyIds()).filter((id) => keyring.get(id) === undefined);
  if (unknown.length === 0) return;
  throw new SecretsKeyMismatchError(
    `This database holds secrets encrypted under key ${unknown.join(', ')}, but the configured key is ${keyring.ids.join(', ')} (${hint}). ` +
      'Set SECRETS_KEY (or SECRETS_KEY_FILE) to the key they were encrypted with; during a rotation, give the old key in SECRETS_OLD_KEYS and run tpcs secrets rotate-key.',
  );
}
