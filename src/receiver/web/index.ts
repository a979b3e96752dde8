/**
 * The receiver kit for Web-standard runtimes (`tpcs/receiver/web`): Cloudflare Workers, Deno, Bun,
 * Vercel Edge, browsers. The same core as `tpcs/receiver` (verify, validate, record before the 200,
 * typed handlers from the inbox) with the Fetch adapter and nothing from Node: signatures are checked
 * with Web Crypto, and the inbox is yours to pass. Nothing here imports a Node built-in; a test bundles
 * this entry for a neutral platform and serves it from workerd (test/examples/worker-receiver.test.ts).
 *
 * @example
 * ```ts
 * import { createFetchHandler, createReceiver } from 'tpcs/receiver/web';
 *
 * const receiver = createReceiver({ secrets: [env.WEBHOOK_SECRET], inbox: myDurableInbox });
 * receiver.on('REJECTED', (event) => notify(event.data.client_customer_ref, event.data.reasons));
 * export const POST = createFetchHandler(receiver);
 * ```
 */
export { createFetchHandler } from '../adapters/fetch.js';
export type { EventFor, Handler, HandlerContext, HandlerName, StatusEvent } from '../core/handlers.js';
export type { ReceiverLogger } from '../core/logger.js';
export {
  type BodyReader,
  DEFAULT_MAX_BODY_BYTES,
  type Receiver,
  type ReceiverHealth,
  type ReceiverOptions,
  type ReceiverRequest,
  type ReceiverStats,
} from '../core/receiver.js';
export type { ReceiverResponse } from '../core/response.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../core/retry-policy.js';
export { createMemoryInbox } from '../inbox/memory.js';
export type {
  CustomerStatusRecord,
  HandlerFailure,
  InboxEntry,
  InboxEvent,
  InboxState,
  InboxStore,
  PendingEvent,
  RecordOptions,
  RecordOutcome,
} from '../inbox/store.js';
export { createReceiver } from './create-receiver.js';
export { createWebVerifier, type WebVerifier } from './verifier.js';
