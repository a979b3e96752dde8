import { SigningError } from '../../signing/errors.js';
import type { HeaderSource } from '../../signing/headers.js';
import {
  noMatchingSignature,
  readSignedMessage,
  unreadableHeaders,
  type VerifyOptions,
  type VerifyResult,
  verifySettings,
} from '../../signing/message.js';
import { checkSecretKey, secretBase64 } from '../../signing/secret-text.js';

/** Verifies one message with Web Crypto: the same answers as `createVerifier`, as a promise. */
export type WebVerifier = (headers: HeaderSource, body: Uint8Array | string) => Promise<VerifyResult>;

/**
 * `createVerifier` for runtimes without `node:crypto` (Workers, Deno, browsers): the same header,
 * timestamp and secret rules (shared code in `src/signing`), with the HMAC from `crypto.subtle`. On
 * Node the entry `tpcs/receiver` uses `createVerifier` instead: synchronous, and faster per call.
 *
 * @throws {SigningError} at creation only: `no_secrets`, `invalid_secret`, `invalid_secret_length`, `invalid_options`
 *
 * @example
 * ```ts
 * const verify = createWebVerifier([env.WEBHOOK_SECRET]);
 * const result = await verify(request.headers, new Uint8Array(await request.arrayBuffer()));
 * ```
 */
export function createWebVerifier(secrets: readonly string[], options: VerifyOptions = {}): WebVerifier {
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new SigningError('no_secrets', 'secrets must be a non-empty array of "whsec_…" strings');
  }
  const keyBytes = secrets.map(decodeSecret);
  const { tolerance, fixedNow } = verifySettings(options);
  const encoder = new TextEncoder();
  // Imported on first use: importKey is asynchronous, and Workers allow little work at startup.
  let keys: Promise<CryptoKey[]> | undefined;

  return async (headers, body) => {
    let message: ReturnType<typeof readSignedMessage>;
    try {
      message = readSignedMessage(headers, body, fixedNow ?? Math.floor(Date.now() / 1000), tolerance);
    } catch {
      return unreadableHeaders(); // hostile header objects (throwing getters, exotic proxies)
    }
    if (!message.ok) return message;
    const { id, timestampText, timestamp, candidates } = message;
    const prefix = encoder.encode(`${id}.${timestampText}.`);
    const bytes = typeof body === 'string' ? encoder.encode(body) : (body as Uint8Array);
    const content = new Uint8Array(prefix.byteLength + bytes.byteLength);
    content.set(prefix);
    content.set(bytes, prefix.byteLength);
    keys ??= Promise.all(
      keyBytes.map((key) =>
        crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']),
      ),
    );
    // One HMAC per secret, compared against every candidate, as the node:crypto verifier does.
    for (const key of await keys) {
      const expected = toBase64(new Uint8Array(await crypto.subtle.sign('HMAC', key, content)));
      for (const candidate of candidates) {
        if (sameText(expected, candidate)) return { ok: true, id, timestamp };
      }
    }
    return noMatchingSignature();
  };
}

/** `parseSecret` without Buffer: the same rules, with `atob`/`btoa`. */
function decodeSecret(secret: string): Uint8Array<ArrayBuffer> {
  const encoded = secretBase64(secret);
  let binary = '';
  try {
    binary = atob(encoded);
  } catch {
    // Padding where no decoder puts it: not canonical, refused just below.
  }
  const key = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  checkSecretKey(encoded, toBase64(key), key.byteLength);
  return key;
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/**
 * Compares two signatures' base64 text without stopping at the first difference (the base64 text,
 * not decoded bytes, as `createVerifier` does: decoders skip stray characters and padding bits).
 */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
