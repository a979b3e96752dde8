import { InvalidCursorError } from './errors.js';

/**
 * Cursors of lists ordered by (time, id) rather than by `seq` (a partner's webhook endpoints, oldest
 * first; its third parties, newest first; the partners): opaque to callers, base64url of `<epoch ms>.<id>` of the last row returned. The next page
 * holds the rows after that key, so a row created or deleted meanwhile never shifts a page.
 *
 * @example
 * const cursor = encodeKeyCursor(new Date(1714557600000), 'ep_1');
 * decodeKeyCursor(cursor); // { at: Date(1714557600000), id: 'ep_1' }
 */
export function encodeKeyCursor(at: Date, id: string): string {
  return Buffer.from(`${at.getTime()}.${id}`, 'utf8').toString('base64url');
}

/** The key a cursor stands for; throws {@link InvalidCursorError} for anything else. */
export function decodeKeyCursor(cursor: string): { at: Date; id: string } {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw new InvalidCursorError(cursor);
  const match = /^(0|[1-9][0-9]{0,15})\.([A-Za-z0-9_-]{1,100})$/.exec(
    Buffer.from(cursor, 'base64url').toString('utf8'),
  );
  const ms = Number(match?.[1]);
  if (!match?.[2] || !Number.isSafeInteger(ms)) throw new InvalidCursorError(cursor);
  return { at: new Date(ms), id: match[2] };
}

/** The (time, id) key of a row, as its cursor encodes it. */
export type RowKey<T> = (row: T) => { at: Date; id: string };

const byCreatedAtAndId = (row: { createdAt: Date; id: string }) => ({ at: row.createdAt, id: row.id });

/**
 * Turns the rows of a "LIMIT limit + 1" query into a page: the extra row only says that another page
 * exists; the cursor points after the last row returned. `keyOf` names the row's key when it is not
 * `(createdAt, id)` (a third party's is `(createdAt, clientCustomerRef)`).
 */
export function toKeyPage<T extends { createdAt: Date; id: string }>(
  rows: T[],
  limit: number,
): { items: T[]; nextCursor: string | null };
export function toKeyPage<T>(
  rows: T[],
  limit: number,
  keyOf: RowKey<T>,
): { items: T[]; nextCursor: string | null };
export function toKeyPage<T>(
  rows: T[],
  limit: number,
  keyOf: RowKey<T> = byCreatedAtAndId as unknown as RowKey<T>,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? cursorAfter(last, keyOf) : null };
}

/** The cursor of the page after `row`. */
export function cursorAfter<T>(row: T, keyOf: RowKey<T>): string {
  const { at, id } = keyOf(row);
  return encodeKeyCursor(at, id);
}
