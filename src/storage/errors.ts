/**
 * Thrown when a pagination cursor was not made by this store (tampered, truncated or from another list).
 * It is the caller's input, so the HTTP layer answers 400 with `code` rather than 500.
 *
 * @example
 * try { await store.listEvents(id, { limit: 20, cursor }); }
 * catch (err) { if (err instanceof InvalidCursorError) reply400(err.code, err.message); else throw err; }
 */
export class InvalidCursorError extends Error {
  readonly code = 'invalid_cursor';
  constructor(cursor: string) {
    super(`Invalid cursor ${JSON.stringify(cursor.slice(0, 64))}: pass back a next_cursor value unchanged`);
    this.name = 'InvalidCursorError';
  }
}

/** Thrown by `parseDatabaseUrl` (and so `openStorage`) for a `DATABASE_URL` it cannot use. */
export class UnsupportedDatabaseUrlError extends Error {
  readonly code = 'unsupported_database_url';
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedDatabaseUrlError';
  }
}

/**
 * Node's codes for a connection that could not be made or was lost: the database is down, restarting
 * or unreachable.
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs (by class or in full) that say the server cannot serve now, not that the
 * request is wrong: 08 connection exception, 53 insufficient resources (disk full, too many
 * connections), 57014 canceled by `statement_timeout`, 57P01-57P03 shutting down, crashed, starting,
 * 55P03 `lock_timeout`, 25006 a read-only server (a standby after a failover), 58030 I/O error.
 */
const POSTGRES_CLASSES = new Set(['08', '53']);
const POSTGRES_CODES = new Set(['57014', '57P01', '57P02', '57P03', '55P03', '25006', '58030']);

/**
 * SQLite's primary result codes (extended codes such as `SQLITE_IOERR_WRITE` share the prefix) for a
 * disk that is full or failing, a lock held too long by another process (SQLITE_BUSY, after the busy
 * timeout), or a file that cannot be opened or written. Not SQLITE_LOCKED: a conflict within our own
 * connection is a bug.
 */
const SQLITE_CODES = [
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_BUSY',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
  'SQLITE_NOMEM',
  'SQLITE_PROTOCOL',
];

/**
 * node-postgres's own errors that carry no code: its timeouts (`query_timeout`, the pool's
 * `connectionTimeoutMillis`) and lost connections. Not a store used after `close()` (a pool ended, a
 * SQLite connection closed): that is our bug, answered 500.
 */
const DRIVER_MESSAGES = [
  /^Query read timeout$/,
  /^timeout exceeded when trying to connect$/,
  /^timeout expired$/,
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable$/,
];

/**
 * Whether `err` says the database is unavailable (down, unreachable, too slow, full, locked) rather
 * than that the operation is wrong: the caller may succeed by trying again later, so the service
 * answers 503 with `Retry-After` (src/http/errors.ts) and `/readyz` says not ready. Looks through
 * `cause` and `AggregateError` (a host with several addresses). One list for both drivers, so a
 * stalled, stopped or full database is told apart from a bug the same way everywhere.
 *
 * @example
 * try { await store.recordDecision(d); }
 * catch (err) { if (isStorageUnavailable(err)) return reply503(); throw err; }
 */
export function isStorageUnavailable(err: unknown): boolean {
  return unavailable(err, 0);
}

function unavailable(err: unknown, depth: number): boolean {
  if (!(err instanceof Error) || depth > 4) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && unavailableCode(code)) return true;
  if (DRIVER_MESSAGES.some((m) => m.test(err.message))) return true;
  if (err instanceof AggregateError && err.errors.some((e) => unavailable(e, depth + 1))) return true;
  return unavailable(err.cause, depth + 1);
}

function unavailableCode(code: string): boolean {
  if (NETWORK_CODES.has(code)) return true;
  if (code.startsWith('SQLITE_')) return SQLITE_CODES.some((c) => code === c || code.startsWith(`${c}_`));
  if (/^[0-9A-Z]{5}$/.test(code)) return POSTGRES_CODES.has(code) || POSTGRES_CLASSES.has(code.slice(0, 2));
  return false;
}
