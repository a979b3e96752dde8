import { fixtures } from '../../src/contract/index.js';

/** A fresh copy of a seed example as a plain object, to break in one place. */
export function seedEvent(name: 'rejected' | 'approved' = 'rejected'): Record<string, unknown> & {
  data: Record<string, unknown>;
} {
  return JSON.parse(fixtures[name]) as Record<string, unknown> & { data: Record<string, unknown> };
}

/** The seed's REJECTED example with `change` applied, serialised. */
export function withChange(
  change: (event: ReturnType<typeof seedEvent>) => void,
  name?: 'rejected' | 'approved',
): string {
  const event = seedEvent(name);
  change(event);
  return JSON.stringify(event);
}

/** UTF-8 bytes of a text. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Concatenates byte arrays. */
export function bytes(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}
