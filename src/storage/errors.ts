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
