import type { HeaderSource } from '../../signing/headers.js';
import type { VerifyOptions, VerifyResult } from '../../signing/message.js';

/**
 * Checks one request's Standard Webhooks signature with the runtime's crypto: synchronous with
 * `node:crypto` (the Node entry), a promise with Web Crypto (the web entry).
 */
export type SignatureCheck = (
  headers: HeaderSource,
  body: Uint8Array,
) => VerifyResult | Promise<VerifyResult>;

/** Makes a {@link SignatureCheck} from the secrets; throws a `SigningError` for a malformed secret. */
export type SignatureCheckFactory = (secrets: readonly string[], options: VerifyOptions) => SignatureCheck;

/**
 * The signature check for a receiver's `secrets`, or undefined when none are given (nothing is
 * checked; the core warns). Called by each entry before it opens anything, so a bad secret fails
 * `createReceiver` without leaving an inbox open.
 */
export function signatureCheckFor(
  options: { secrets?: string | readonly string[]; toleranceSeconds?: number },
  factory: SignatureCheckFactory,
): SignatureCheck | undefined {
  const { secrets } = options;
  const list = secrets === undefined ? [] : typeof secrets === 'string' ? [secrets] : [...secrets];
  // `secrets: [process.env.SECRET]` with the variable unset must not silently turn verification off.
  if (list.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new TypeError('createReceiver: a secret is empty or undefined (is its environment variable set?)');
  }
  if (list.length === 0) return undefined;
  return factory(list, { toleranceSeconds: options.toleranceSeconds });
}
