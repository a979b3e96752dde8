import { createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { idProblem, MAX_TIMESTAMP_DIGITS, signatureOf } from './content.js';
import { SigningError } from './errors.js';
import { type HeaderSource, ID_HEADER, readHeader, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './headers.js';
import { parseSecret } from './secret.js';

/** How far a `webhook-timestamp` may be from the receiver's clock, either way: the spec's 5 minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * Why a message was refused. A receiver answers 401 for all of them (so the sender retries and a
 * fixed secret or clock recovers the events); the code is for logs and metrics.
 */
export type VerifyFailure =
  | 'missing_headers'
  | 'invalid_id'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_valid_signature';

/** The outcome of a verification; failures are values, never exceptions. */
export type VerifyResult =
  | { ok: true; id: string; timestamp: number }
  | { ok: false; code: VerifyFailure; message: string };

export interface VerifyOptions {
  /** Accepted clock difference in seconds, both ways. Default 300. */
  toleranceSeconds?: number | undefined;
  /** The current time in unix seconds, for tests; default the system clock at each call. */
  now?: number | undefined;
}

/** Verifies one message (headers plus the exact raw body bytes) against the secrets it was made with. */
export type Verifier = (headers: HeaderSource, body: Uint8Array | string) => VerifyResult;

// A v1 signature is base64 of 32 bytes, always 44 characters with its padding.
const V1_PREFIX = 'v1,';
const SIGNATURE_LENGTH = 44;
const DIGITS = /^[0-9]+$/;

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
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new SigningError('invalid_options', 'toleranceSeconds must be a non-negative number');
  }
  const fixedNow = options.now;
  if (fixedNow !== undefined && !Number.isFinite(fixedNow)) {
    throw new SigningError('invalid_options', 'now must be a number of unix seconds');
  }

  // Scratch buffers for the constant-time compare, reused across calls (verification is synchronous).
  const expected = Buffer.alloc(SIGNATURE_LENGTH);
  const candidate = Buffer.alloc(SIGNATURE_LENGTH);

  function verify(headers: HeaderSource, body: Uint8Array | string): VerifyResult {
    if (typeof headers !== 'object' || headers === null) {
      return failure('missing_headers', 'no headers were given');
    }
    const id = readHeader(headers, ID_HEADER, false);
    const timestampText = readHeader(headers, TIMESTAMP_HEADER, false);
    const signatureList = readHeader(headers, SIGNATURE_HEADER, true);
    if (!id || !timestampText || !signatureList) {
      const missing = [
        id === undefined || id === '' ? ID_HEADER : undefined,
        timestampText === undefined || timestampText === '' ? TIMESTAMP_HEADER : undefined,
        signatureList === undefined || signatureList === '' ? SIGNATURE_HEADER : undefined,
      ].filter((name) => name !== undefined);
      if (missing.length > 0) return failure('missing_headers', `missing header: ${missing.join(', ')}`);
      if (id === null) return failure('invalid_id', `${ID_HEADER} must be one text value, not several`);
      if (timestampText === null) {
        return failure('invalid_timestamp', `${TIMESTAMP_HEADER} must be one text value, not several`);
      }
      return failure('no_valid_signature', `${SIGNATURE_HEADER} is not text`);
    }

    const idIssue = idProblem(id);
    if (idIssue !== undefined) return failure('invalid_id', idIssue);

    if (timestampText.length > MAX_TIMESTAMP_DIGITS || !DIGITS.test(timestampText)) {
      return failure(
        'invalid_timestamp',
        `${TIMESTAMP_HEADER} must be unix seconds, digits only (at most ${MAX_TIMESTAMP_DIGITS})`,
      );
    }
    const timestamp = Number(timestampText);
    const now = fixedNow ?? Math.floor(Date.now() / 1000);
    if (now - timestamp > tolerance) {
      return failure(
        'timestamp_too_old',
        `${TIMESTAMP_HEADER} is ${now - timestamp} s in the past (tolerance ${tolerance} s): a replay, or a clock out of sync`,
      );
    }
    if (timestamp - now > tolerance) {
      return failure(
        'timestamp_too_new',
        `${TIMESTAMP_HEADER} is ${timestamp - now} s in the future (tolerance ${tolerance} s): a clock out of sync`,
      );
    }

    if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
      // The usual cause: a JSON body parser ran before us, and re-serialised JSON never matches.
      return failure(
        'no_valid_signature',
        'the body must be the raw request bytes (Uint8Array/Buffer) or text, not a parsed object',
      );
    }

    const candidates = v1Signatures(signatureList);
    if (candidates.length === 0) {
      return failure('no_valid_signature', `${SIGNATURE_HEADER} has no well-formed v1 signature`);
    }
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
    return failure('no_valid_signature', `no signature in ${SIGNATURE_HEADER} matches the secret(s)`);
  }

  return (headers, body) => {
    try {
      return verify(headers, body);
    } catch {
      // Only reachable through hostile header objects (throwing getters, exotic proxies).
      return failure('missing_headers', 'the headers could not be read');
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

/** The `v1` entries of a signature list that have a signature's length; others cannot match. */
function v1Signatures(list: string): string[] {
  const found: string[] = [];
  // One entry is the usual case; skip split()'s array for it.
  for (const entry of list.includes(' ') ? list.split(' ') : [list]) {
    // A Fetch `Headers` joins repeated lines with ", ", leaving a comma after all but the last entry.
    const end = entry.endsWith(',') ? entry.length - 1 : entry.length;
    if (end - V1_PREFIX.length === SIGNATURE_LENGTH && entry.startsWith(V1_PREFIX)) {
      found.push(entry.slice(V1_PREFIX.length, end));
    }
  }
  return found;
}

function failure(code: VerifyFailure, message: string): VerifyResult {
  return { ok: false, code, message };
}
