import { createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { signatureOf } from './content.js';
import { SigningError } from './errors.js';
import type { HeaderSource } from './headers.js';
import {
  noMatchingSignature,
  readSignedMessage,
  SIGNATURE_LENGTH,
  unreadableHeaders,
  type Verifier,
  type VerifyOptions,
  type VerifyResult,
  verifySettings,
} from './message.js';
import { parseSecret } from './secret.js';

export {
  DEFAULT_TOLERANCE_SECONDS,
  type Verifier,
  type VerifyFailure,
  type VerifyOptions,
  type VerifyResult,
} from './message.js';

/**
 * Decodes the secrets once and returns a function that verifies messages against any of them.
 * This is the receiver's fast path; {@link verifyWebhook} is the one-off form.
 *
 * Checks, in order: the three headers are present; the id is usable; the timestamp is digits
 * within the tolerance; one of the `v1` signatures in `webhook-signature` matches one of the
 * secrets. Signatures with other schemes (`v1a,…`) are ignored. Several header lines of
 * `webhook-signature` (a `string[]` in a record, or the `", "`-joined value of a Fetch `Headers`)
 * are read as one space-separated list; several *different* `webhook-id` or `webhook-timestamp`
 * values are refused.
 *
 * Never throws for anything in `headers` or `body`: every problem is a `{ ok: false }` result.
 *
 * @param secrets every `whsec_…` secret currently accepted (during a rotation: new and old)
 * @throws {SigningError} at creation only: `no_secrets`, `invalid_secret`, `invalid_secret_length`, `invalid_options`
 *
 * @example
 * ```ts
 * const verify = createVerifier([process.env.WEBHOOK_SECRET!]);
 * http.createServer(async (req, res) => {
 *   const body = Buffer.concat(await req.toArray());
 *   const result = verify(req.headers, body);
 *   res.statusCode = result.ok ? 200 : 401;
 *   res.end(result.ok ? '{}' : JSON.stringify({ error: { code: result.code, message: result.message } }));
 * });
 * ```
 */
export function createVerifier(secrets: readonly string[], options: VerifyOptions = {}): Verifier {
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new SigningError('no_secrets', 'secrets must be a non-empty array of "whsec_…" strings');
  }
  // Measured (bench/signing.ts): a KeyObject and a Buffer key hash equally fast. A KeyObject is
  // immutable and keeps the key bytes out of reach of code holding the verifier, so we take it.
  const keys: KeyObject[] = secrets.map((secret) => createSecretKey(parseSecret(secret)));
  const { tolerance, fixedNow } = verifySettings(options);

  // Scratch buffers for the constant-time compare, reused across calls (verification is synchronous).
  const expected = Buffer.alloc(SIGNATURE_LENGTH);
  const candidate = Buffer.alloc(SIGNATURE_LENGTH);

  function verify(headers: HeaderSource, body: Uint8Array | string): VerifyResult {
    const message = readSignedMessage(headers, body, fixedNow ?? Math.floor(Date.now() / 1000), tolerance);
    if (!message.ok) return message;
    const { id, timestampText, timestamp, candidates } = message;
    // One HMAC per secret, compared against every candidate: rotation costs a compare, not a hash.
    for (const key of keys) {
      expected.write(signatureOf(key, id, timestampText, body), 'latin1');
      for (const text of candidates) {
        // We compare the base64 text rather than decoded bytes: Node's decoder skips stray
        // characters and padding bits, so decoding would accept altered signatures. A candidate
        // with non-ASCII characters cannot fill the buffer with exactly these 44 ASCII bytes.
        if (candidate.write(text, 'utf8') === SIGNATURE_LENGTH && timingSafeEqual(expected, candidate)) {
          return { ok: true, id, timestamp };
        }
      }
    }
    return noMatchingSignature();
  }

  return (headers, body) => {
    try {
      return verify(headers, body);
    } catch {
      // Only reachable through hostile header objects (throwing getters, exotic proxies).
      return unreadableHeaders();
    }
  };
}

/**
 * Verifies one message. Decodes the secrets on every call; a receiver handling many messages
 * should make a verifier once with {@link createVerifier}.
 *
 * @throws {SigningError} only for a malformed secret or option, never for the message itself
 *
 * @example
 * ```ts
 * const result = verifyWebhook(request.headers, rawBody, ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']);
 * if (!result.ok) return new Response(JSON.stringify({ error: result }), { status: 401 });
 * ```
 */
export function verifyWebhook(
  headers: HeaderSource,
  body: Uint8Array | string,
  secrets: readonly string[],
  options?: VerifyOptions,
): VerifyResult {
  return createVerifier(secrets, options)(headers, body);
}
