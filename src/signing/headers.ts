/**
 * Where verification reads the three `webhook-*` headers from: a Fetch API `Headers` object, or a
 * plain record such as Node's `IncomingHttpHeaders` (lower-case keys, matched case-insensitively
 * for records built by hand).
 */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

/** The three headers a signed message carries. */
export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export const ID_HEADER = 'webhook-id';
export const TIMESTAMP_HEADER = 'webhook-timestamp';
export const SIGNATURE_HEADER = 'webhook-signature';

/**
 * Reads one header as a single string.
 *
 * Returns `undefined` when absent, `null` when present but unusable (several different values, or a
 * value that is not text): the caller turns those into different failure messages.
 *
 * Several values are `join`ed with a space when `join` is set (used for `webhook-signature`, where
 * a proxy or client may send one header line per signature); otherwise they must all be equal,
 * since two different ids or timestamps cannot both be the signed one.
 */
export function readHeader(headers: HeaderSource, name: string, join: boolean): string | undefined | null {
  // A Fetch `Headers` (or any look-alike, e.g. from another fetch implementation) already merges
  // repeated lines with ", " and matches names case-insensitively.
  const get = (headers as { get?: unknown }).get;
  if (typeof get === 'function') {
    const value: unknown = get.call(headers, name);
    if (value === null || value === undefined) return undefined;
    return typeof value === 'string' ? value : null;
  }
  const record = headers as Record<string, unknown>;
  let value = record[name];
  if (value === undefined) {
    value = findCaseInsensitive(record, name);
  }
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) return null;
  if (value.length === 0) return undefined;
  for (const item of value) {
    if (typeof item !== 'string') return null;
  }
  const items = value as string[];
  if (join) return items.join(' ');
  const first = items[0] as string;
  return items.every((item) => item === first) ? first : null;
}

// Node lower-cases incoming header names, so this slow path only runs for hand-built records.
function findCaseInsensitive(record: Record<string, unknown>, name: string): unknown {
  for (const key of Object.keys(record)) {
    if (key.length === name.length && key.toLowerCase() === name) return record[key];
  }
  return undefined;
}
