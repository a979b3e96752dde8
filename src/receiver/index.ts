/**
 * The partner's receiver kit for "Third Party Customer Status Updated Event" webhooks: a pure core
 * (`createReceiver`) that verifies, validates and durably records each event before answering, then
 * hands typed events to your handlers; and thin adapters for node:http, Express, Fastify and Fetch.
 */
export { createExpressMiddleware } from './adapters/express.js';
export { type FastifyReceiverOptions, fastifyReceiver } from './adapters/fastify.js';
export { createFetchHandler } from './adapters/fetch.js';
export { createNodeHandler, handleNodeRequest } from './adapters/node.js';
export { isJsonContentType } from './core/content-type.js';
export type { EventFor, Handler, HandlerContext, HandlerName, StatusEvent } from './core/handlers.js';
export type { ReceiverLogger } from './core/logger.js';
export {
  type BodyReader,
  createReceiver,
  DEFAULT_INBOX_FILE,
  DEFAULT_MAX_BODY_BYTES,
  type Receiver,
  type ReceiverOptions,
  type ReceiverRequest,
} from './core/receiver.js';
export type { ReceiverResponse } from './core/response.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './core/retry-policy.js';
export { type ErrorBody, RECEIVER_ERRORS, type ReceiverErrorCode } from './errors.js';
export { createMemoryInbox } from './inbox/memory.js';
export { createSqliteInbox, type SqliteInbox, type SqliteInboxOptions } from './inbox/sqlite.js';
export type {
  CustomerStatusRecord,
  InboxEntry,
  InboxEvent,
  InboxState,
  InboxStore,
  PendingEvent,
  RecordOutcome,
} from './inbox/store.js';
