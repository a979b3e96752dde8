import { createReceiverCore, type Receiver, type ReceiverOptions } from '../core/receiver.js';
import { signatureCheckFor } from '../core/verification.js';
import { createWebVerifier } from './verifier.js';

/**
 * Creates a receiver on a Web-standard runtime: verify (Web Crypto), validate, record in `inbox`,
 * answer, then hand typed events to handlers. There is no default inbox: pass a durable
 * `InboxStore` of your platform's storage (`createMemoryInbox()` only for tests: it forgets on restart).
 *
 * On Cloudflare Workers, create it inside a handler (the first request), not at the top of the
 * module: the receiver starts a timer, and Workers allow none at startup. Handlers run after the
 * answer, so keep the request alive for them with `ctx.waitUntil(receiver.drain())`.
 *
 * @example
 * ```ts
 * let handle: ((request: Request) => Promise<Response>) | undefined;
 * export default {
 *   fetch(request: Request, env: { WEBHOOK_SECRET: string }) {
 *     handle ??= createFetchHandler(createReceiver({ secrets: [env.WEBHOOK_SECRET], inbox: myInbox(env) }));
 *     return handle(request);
 *   },
 * };
 * ```
 */
export function createReceiver(options: ReceiverOptions): Receiver {
  return createReceiverCore(options, signatureCheckFor(options, createWebVerifier));
}
