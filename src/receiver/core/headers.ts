import type { HeaderSource } from '../../signing/index.js';

/**
 * Reads one header from a Fetch `Headers` or a plain Node-style record. Node lower-cases header names,
 * but hand-built records may not, hence the case-insensitive fallback. Repeated headers: first value.
 */
export function getHeader(headers: HeaderSource, name: string): string | undefined {
  try {
    return readHeader(headers, name);
  } catch {
    return undefined; // hostile header objects (throwing getters, proxies): treated as absent
  }
}

function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') {
    return (headers as Headers).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  let value = Object.hasOwn(record, name) ? record[name] : undefined;
  if (value === undefined) {
    for (const key of Object.keys(record)) {
      if (key.toLowerCase() === name) {
        value = record[key];
        break;
      }
    }
  }
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}
