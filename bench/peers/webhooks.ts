/**
 * The work every system in bench/peers does: the same signed Standard Webhooks requests tpcs sends
 * (its event JSON, signed by src/signing, with its headers), POSTed with undici.
 */
import { Pool } from 'undici';
import { buildEvent } from '../../src/contract/index.js';
import { signWebhook } from '../../src/signing/sign.js';
import { USER_AGENT } from '../../src/webhooks/dispatcher/sender.js';

/** The partner every delivery belongs to, and the secret of each of its endpoints. */
export const PARTNER_ID = '0201001008132685';
export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** One delivery as a job queue would hold it: where to, and the exact bytes to sign and send. */
export interface Webhook {
  url: string;
  /** `webhook-id`: the event id. */
  messageId: string;
  payload: string;
  secret: string;
}

/** The sink path of endpoint `i`: one path per endpoint, so the sink counts deliveries, not events. */
export const endpointUrl = (sinkUrl: string, i: number) => `${sinkUrl}/ep${i}`;

/** The third party whose decision makes event `i` (tpcs builds the same events from its decisions). */
export const thirdPartyRef = (i: number) => `c${i}`;

/** `events` APPROVED events, each to every one of `endpoints` endpoints: events × endpoints webhooks. */
export function webhooksFor(sinkUrl: string, events: number, endpoints: number): Webhook[] {
  const out: Webhook[] = [];
  for (let e = 0; e < events; e++) {
    const { event, json } = buildEvent({
      customerId: PARTNER_ID,
      clientCustomerRef: thirdPartyRef(e),
      status: 'APPROVED',
    });
    for (let i = 0; i < endpoints; i++) {
      out.push({ url: endpointUrl(sinkUrl, i), messageId: event.event_id, payload: json, secret: SECRET });
    }
  }
  return out;
}

export interface Poster {
  /** Signs and POSTs one webhook; throws on a status other than 2xx, so the queue retries it. */
  post(webhook: Webhook): Promise<void>;
  close(): Promise<void>;
}

/**
 * An undici Pool to the sink with `connections` kept-alive connections, and the one function every
 * job handler (and the ceiling loop) calls.
 */
export function createPoster(sinkUrl: string, connections: number): Poster {
  const pool = new Pool(sinkUrl, { connections, keepAliveTimeout: 30_000 });
  return {
    async post(webhook) {
      const headers = {
        ...signWebhook({
          id: webhook.messageId,
          timestamp: Math.floor(Date.now() / 1000),
          body: webhook.payload,
          secrets: [webhook.secret],
        }),
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
      };
      const response = await pool.request({
        path: new URL(webhook.url).pathname,
        method: 'POST',
        headers,
        body: webhook.payload,
      });
      await response.body.dump();
      if (response.statusCode < 200 || response.statusCode > 299) {
        throw new Error(`${webhook.url}: ${response.statusCode}`);
      }
    },
    close: () => pool.close(),
  };
}
