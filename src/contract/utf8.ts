/**
 * Strict UTF-8 decoding of a request body.
 */

// Fatal: a body with invalid bytes is refused, not patched with U+FFFD, which would change what
// the partner's code sees compared with the bytes that were signed. The default `ignoreBOM: false`
// means a leading UTF-8 byte order mark is consumed rather than returned (see `parse.ts`).
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes UTF-8 bytes; on invalid input returns the offset of the first byte that is not part of a
 * well-formed sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
 *
 * @example
 * decodeUtf8(new Uint8Array([0x7b, 0x7d])); // { ok: true, text: '{}' }
 * decodeUtf8(new Uint8Array([0x7b, 0xff])); // { ok: false, offset: 1 }
 */
export function decodeUtf8(bytes: Uint8Array): { ok: true; text: string } | { ok: false; offset: number } {
  try {
    return { ok: true, text: decoder.decode(bytes) };
  } catch {
    return { ok: false, offset: firstInvalidUtf8Offset(bytes) };
  }
}

/** The offset of the first ill-formed sequence, or `bytes.length` if there is none. */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    // The allowed range of the second byte depends on the first (RFC 3629, section 4).
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0;
      else if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90;
      else if (b === 0xf4) high = 0x8f;
    } else return i;
    if (i + length > n) return i;
    const second = bytes[i + 1] as number;
    if (second < low || second > high) return i;
    for (let k = 2; k < length; k++) {
      const next = bytes[i + k] as number;
      if (next < 0x80 || next > 0xbf) return i;
    }
    i += length;
  }
  return n;
}
