import { idProblem, signatureOf } from './content.js';
import { SigningError } from './errors.js';
import type { WebhookHeaders } from './headers.js';
import { parseSecret } from './secret.js';

/** What to sign: one message, with every secret currently valid for the endpoint. */
export interface SignInput {
  /** `webhook-id`: the event id, the same on every retry so receivers can drop duplicates. */
  id: string;
  /** `webhook-timestamp`: unix seconds of this attempt (not of the event). */
  timestamp: number;
  /** The exact bytes that will be sent as the request body. */
  body: Uint8Array | string;
  /**
   * One signature per secret, in this order. During a rotation pass both the new and the old
   * secret so receivers holding either one accept the message.
   */
  secrets: readonly string[];
}

/**
 * Signs a message the Standard Webhooks way and returns the three headers to send with it.
 *
 * @throws {SigningError} `invalid_id` (empty, contains `.`, not visible ASCII, over 256 characters),
 *   `invalid_timestamp` (not a non-negative integer), `no_secrets`, `invalid_secret`,
 *   `invalid_secret_length`, `invalid_body`
 *
 * @example
 * ```ts
 * const body = JSON.stringify(event);
 * const headers = signWebhook({
 *   id: event.event_id,
 *   timestamp: Math.floor(Date.now() / 1000),
 *   body,
 *   secrets: [endpoint.secret],
 * });
 * await fetch(endpoint.url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
 * ```
 */
export function signWebhook(input: SignInput): WebhookHeaders {
  const { id, timestamp, body, secrets } = input;
  const problem = typeof id === 'string' ? idProblem(id) : 'webhook-id must be a string';
  if (problem !== undefined) throw new SigningError('invalid_id', problem);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new SigningError(
      'invalid_timestamp',
      `timestamp must be a non-negative integer (unix seconds), got ${String(timestamp)}`,
    );
  }
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new SigningError('invalid_body', 'body must be a Uint8Array or a string');
  }
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new SigningError('no_secrets', 'secrets must be a non-empty array of "whsec_…" strings');
  }
  const timestampText = String(timestamp);
  const signatures = secrets.map(
    (secret) => `v1,${signatureOf(parseSecret(secret), id, timestampText, body)}`,
  );
  return {
    'webhook-id': id,
    'webhook-timestamp': timestampText,
    'webhook-signature': signatures.join(' '),
  };
}
