/**
 * The partner's receiver kit for "Third Party Customer Status Updated Event" webhooks, on Node
 * (`tpcs/receiver`): `createReceiver` verifies (node:crypto), validates and durably records each event
 * (SQLite by default) before answering, then hands typed events to your handlers; thin adapters for
 * node:http, Express, Fastify and Fetch. The same runtime-agnostic core, without any Node built-in, is
 * `tpcs/receiver/web` (Workers, Deno, Bun, browsers), where you pass the inbox yourself.
 *
 * What it guarantees
 * - 200 only once the event is committed to the inbox (SQLite, WAL mode). By default
 *   (`synchronous: 'NORMAL'`) a 200 survives a crash of the process; `createSqliteInbox(file,
 *   { synchronous: 'FULL' })` also waits for an fdatasync of the WAL (run off the event loop), so it
 *   survives power loss too, at a cost in throughput at low concurrency. Concurrent events share one
 *   transaction (group commit); with NORMAL, WAL checkpoints run on a thread of their own.
 * - One `event_id` is recorded and handled once; a redelivery is answered 200 (`outcome: duplicate`).
 * - Per `(customer_id, client_customer_ref)` the status table holds the newest event by
 *   `event_timestamp` (ties: the later arrival). An older event is kept as `stale`, does not
 *   change the status and does not reach handlers unless `handleStaleEvents: true`.
 * - Handlers run after the answer, from the inbox, in arrival order; one that throws is retried with
 *   backoff, and events left by a crash run at the next start. A crash between a handler finishing and
 *   the row being marked handled runs that handler again (at-least-once), so make handlers idempotent.
 * - Answers are JSON: 400 invalid payload (with every problem), 401 signature, 405 method, 413 body
 *   over `maxBodyBytes` (adapters stop reading at the limit), 415 content type, 503 with
 *   `Retry-After` while the inbox cannot write (a full disk: logged once, `receiver.health()` says so,
 *   and events are taken again as soon as a write succeeds).
 * - A signing secret is required: without one `createReceiver` throws, unless `insecureSkipVerify: true`.
 *
 * @example
 * ```ts
 * const receiver = createReceiver({ secrets: [process.env.WEBHOOK_SECRET ?? ''] });
 * receiver.on('REJECTED', (event) => console.log(event.data.client_customer_ref, event.data.reasons));
 * createServer(createNodeHandler(receiver)).listen(3000);
 * ```
 */
export { ERROR_STATUS, type ErrorBody, type ErrorCode } from '../errors/index.js';
export { createExpressMiddleware } from './adapters/express.js';
export { type FastifyReceiverOptions, fastifyReceiver } from './adapters/fastify.js';
export { createFetchHandler } from './adapters/fetch.js';
export { createNodeHandler, handleNodeRequest } from './adapters/node.js';
export { isJsonContentType } from './core/content-type.js';
export type { EventFor, Handler, HandlerContext, HandlerName, StatusEvent } from './core/handlers.js';
export type { ReceiverLogger } from './core/logger.js';
export {
  type BodyReader,
  DEFAULT_MAX_BODY_BYTES,
  type Receiver,
  type ReceiverHealth,
  type ReceiverRequest,
  type ReceiverStats,
} from './core/receiver.js';
export type { ReceiverResponse } from './core/response.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './core/retry-policy.js';
// The Node receiver's options are `ReceiverOptions` here, as the web entry's are there: each entry's
// `createReceiver` takes its `ReceiverOptions`.
export {
  createReceiver,
  DEFAULT_INBOX_FILE,
  type NodeReceiverOptions as ReceiverOptions,
} from './create-receiver.js';
export { createMemoryInbox } from './inbox/memory.js';
export { createSqliteInbox, type SqliteInbox, type SqliteInboxOptions } from './inbox/sqlite.js';
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
} from './inbox/store.js';
