/**
 * What a Standard Webhooks message is, read from its headers up to (not including) the HMAC: the
 * rules both verifiers share, the `node:crypto` one (`verify.ts`) and the Web Crypto one of the
 * receiver's web entry. Imports nothing from Node, so any runtime can load it.
 */
import { SigningError } from './errors.js';
import { type HeaderSource, ID_HEADER, readHeader, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './headers.js';

/**
 * Longest `webhook-id` we sign or accept. Ids are event ids (UUIDs, `msg_…`); the cap keeps a
 * hostile header from making us hash megabytes before we even look at the signature.
 */
export const MAX_ID_LENGTH = 256;

/** Unix seconds fit in 15 digits for the next 30 million years and stay exact in a double. */
export const MAX_TIMESTAMP_DIGITS = 15;

// Visible ASCII (0x21-0x7e) except "." (0x2e), 1 to MAX_ID_LENGTH characters.
const VALID_ID = new RegExp(`^[!-\\-/-~]{1,${MAX_ID_LENGTH}}$`);

/**
 * Why an id cannot be used, or `undefined` when it can. Shared by signing and verifying so both
 * ends agree on what a message id is.
 *
 * A `.` is refused because the signed content is `id.timestamp.body`: with dots in the id, two
 * different (id, timestamp) pairs could produce the same content. Anything outside visible ASCII
 * is refused because the id travels in an HTTP header.
 */
export function idProblem(id: string): string | undefined {
  // The regex is the fast path for the usual good id; the loop below only explains a bad one.
  if (VALID_ID.test(id)) return undefined;
  if (id.length === 0) return 'webhook-id is empty';
  if (id.length > MAX_ID_LENGTH) return `webhook-id is longer than ${MAX_ID_LENGTH} characters`;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c === 0x2e) return 'webhook-id must not contain "."';
    if (c < 0x21 || c > 0x7e) return 'webhook-id must be visible ASCII characters without spaces';
  }
  return 'webhook-id is not valid'; // unreachable while the regex and the loop agree
}

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

/** The options of a verifier, checked once when it is made. */
export function verifySettings(options: VerifyOptions): { tolerance: number; fixedNow: number | undefined } {
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new SigningError('invalid_options', 'toleranceSeconds must be a non-negative number');
  }
  const fixedNow = options.now;
  if (fixedNow !== undefined && !Number.isFinite(fixedNow)) {
    throw new SigningError('invalid_options', 'now must be a number of unix seconds');
  }
  return { tolerance, fixedNow };
}

/** A message that passed every check but the signature's: what the HMAC is then computed over. */
export interface SignedMessage {
  ok: true;
  id: string;
  /** `webhook-timestamp` as received: the signed content uses this text. */
  timestampText: string;
  timestamp: number;
  /** The `v1` signatures of `webhook-signature` (base64 text, 44 characters each): at least one. */
  candidates: string[];
}

// A v1 signature is base64 of 32 bytes, always 44 characters with its padding.
const V1_PREFIX = 'v1,';
export const SIGNATURE_LENGTH = 44;
const DIGITS = /^[0-9]+$/;

/**
 * Checks, in order: the three headers are present; the id is usable; the timestamp is digits within
 * `tolerance` of `now` (unix seconds); the body is bytes or text; `webhook-signature` holds at least
 * one well-formed `v1` signature. Signatures with other schemes (`v1a,…`) are ignored. Several header
 * lines of `webhook-signature` (a `string[]` in a record, or the `", "`-joined value of a Fetch
 * `Headers`) are read as one space-separated list; several *different* `webhook-id` or
 * `webhook-timestamp` values are refused. May throw only for hostile header objects (throwing getters).
 */
export function readSignedMessage(
  headers: HeaderSource,
  body: unknown,
  now: number,
  tolerance: number,
): SignedMessage | { ok: false; code: VerifyFailure; message: string } {
  if (typeof headers !== 'object' || headers === null) {
    return verifyFailure('missing_headers', 'no headers were given');
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
    if (missing.length > 0) return verifyFailure('missing_headers', `missing header: ${missing.join(', ')}`);
    if (id === null) return verifyFailure('invalid_id', `${ID_HEADER} must be one text value, not several`);
    if (timestampText === null) {
      return verifyFailure('invalid_timestamp', `${TIMESTAMP_HEADER} must be one text value, not several`);
    }
    return verifyFailure('no_valid_signature', `${SIGNATURE_HEADER} is not text`);
  }

  const idIssue = idProblem(id);
  if (idIssue !== undefined) return verifyFailure('invalid_id', idIssue);

  if (timestampText.length > MAX_TIMESTAMP_DIGITS || !DIGITS.test(timestampText)) {
    return verifyFailure(
      'invalid_timestamp',
      `${TIMESTAMP_HEADER} must be unix seconds, digits only (at most ${MAX_TIMESTAMP_DIGITS})`,
    );
  }
  const timestamp = Number(timestampText);
  if (now - timestamp > tolerance) {
    return verifyFailure(
      'timestamp_too_old',
      `${TIMESTAMP_HEADER} is ${now - timestamp} s in the past (tolerance ${tolerance} s): a replay, or a clock out of sync`,
    );
  }
  if (timestamp - now > tolerance) {
    return verifyFailure(
      'timestamp_too_new',
      `${TIMESTAMP_HEADER} is ${timestamp - now} s in the future (tolerance ${tolerance} s): a clock out of sync`,
    );
  }

  if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
    // The usual cause: a JSON body parser ran before us, and re-serialised JSON never matches.
    return verifyFailure(
      'no_valid_signature',
      'the body must be the raw request bytes (Uint8Array/Buffer) or text, not a parsed object',
    );
  }

  const candidates = v1Signatures(signatureList);
  if (candidates.length === 0) {
    return verifyFailure('no_valid_signature', `${SIGNATURE_HEADER} has no well-formed v1 signature`);
  }
  return { ok: true, id, timestampText, timestamp, candidates };
}

/** The answer when no candidate matches any secret. */
export function noMatchingSignature(): VerifyResult {
  return verifyFailure('no_valid_signature', `no signature in ${SIGNATURE_HEADER} matches the secret(s)`);
}

/** The answer when reading the headers threw: only hostile header objects (throwing getters, proxies). */
export function unreadableHeaders(): VerifyResult {
  return verifyFailure('missing_headers', 'the headers could not be read');
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

function verifyFailure(
  code: VerifyFailure,
  message: string,
): { ok: false; code: VerifyFailure; message: string } {
  return { ok: false, code, message };
}
