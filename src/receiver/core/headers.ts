import { readHeader } from '../../signing/headers.js';
import type { HeaderSource } from '../../signing/index.js';

/**
 * Reads one header from a Fetch `Headers` or a plain Node-style record, with the same rules as the
 * signature check (`readHeader`): names case-insensitive, repeated lines accepted only when they
 * agree. Anything unusable (several different values, a value that is not text, a header object
 * that throws) reads as absent, so the caller answers as it would without the header.
 */
export function getHeader(headers: HeaderSource, name: string): string | undefined {
  try {
    return readHeader(headers, name, false) ?? undefined;
  } catch {
    return undefined; // hostile header objects (throwing getters, proxies): treated as absent
  }
}
