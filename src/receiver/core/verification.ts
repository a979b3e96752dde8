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
 * The signature check for a receiver's `secrets`, or undefined when the caller turned checking off
 * with `insecureSkipVerify: true` (the core then warns). Without a secret and without that opt-out it
 * throws: a missing secret must never quietly mean "accept forged events". Called by each entry before
 * it opens anything, so a bad secret fails `createReceiver` without leaving an inbox open.
 */
export function signatureCheckFor(
  options: { secrets?: string | readonly string[]; toleranceSeconds?: number; insecureSkipVerify?: boolean },
  factory: SignatureCheckFactory,
): SignatureCheck | undefined {
  const { secrets } = options;
  const list = secrets === undefined ? [] : typeof secrets === 'string' ? [secrets] : [...secrets];
  // `secrets: [process.env.SECRET]` with the variable unset must not silently turn verification off.
  if (list.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new TypeError('createReceiver: a secret is empty or undefined (is its environment variable set?)');
  }
  if (options.insecureSkipVerify === true) {
    // Both at once is a configuration mistake either way round: say so rather than guess which was meant.
    if (list.length > 0) {
      throw new TypeError('createReceiver: give secrets or insecureSkipVerify: true, not both');
    }
    return undefined;
  }
  if (list.length === 0) {
    throw new TypeError(
      'createReceiver: no signing secret. Pass secrets: ["whsec_…"]; to accept unsigned events that ' +
        'anyone can forge (local development only), pass insecureSkipVerify: true',
    );
  }
  return factory(list, { toleranceSeconds: options.toleranceSeconds });
}
