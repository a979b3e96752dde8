import { InvalidCursorError } from './errors.js';

/**
 * Cursors are opaque to callers: base64url of the last returned row's `seq`. The next page holds the
 * rows with a smaller `seq` (lists are newest first), so rows inserted meanwhile never shift a page.
 *
 * @example
 * encodeCursor(42) // 'NDI'
 * decodeCursor('NDI') // 42
 */
export function encodeCursor(seq: number): string {
  return Buffer.from(String(seq), 'utf8').toString('base64url');
}

/** The `seq` a cursor stands for; throws {@link InvalidCursorError} for anything else. */
export function decodeCursor(cursor: string): number {
  if (!/^[A-Za-z0-9_-]{1,24}$/.test(cursor)) throw new InvalidCursorError(cursor);
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9][0-9]{0,15}$/.test(text)) throw new InvalidCursorError(cursor);
  const seq = Number(text);
  if (!Number.isSafeInteger(seq)) throw new InvalidCursorError(cursor);
  return seq;
}

/**
 * Turns the rows of a "newest first, LIMIT limit + 1" query into a page: the extra row only says that
 * another page exists; the cursor points after the last row returned.
 */
export function toCursorPage<R extends { seq: number }, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
): { items: T[]; nextCursor: string | null } {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  return { items: kept.map(map), nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null };
}
