import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { handleNodeRequest, writeNodeResponse } from '../adapters/node.js';
import { INBOX_RETRY_AFTER_SECONDS, type Receiver, type ReceiverHealth } from '../core/receiver.js';
import { errorResponse, jsonResponse, type ReceiverResponse } from '../core/response.js';
import { isStorageError } from '../core/write-health.js';
import type { CustomerStatusRecord } from '../inbox/store.js';

export const WEBHOOK_PATH = '/webhook';

/**
 * The ready-made receiver service behind `tpcs receive`: the receiver at `POST /webhook`, plus the
 * status table it keeps, read-only.
 *
 * - `GET /statuses/{customer_id}/{client_customer_ref}`: the current status (404 when unknown)
 * - `GET /statuses?customer_id=…&limit=…`: `{statuses: [...]}` (all customers when omitted)
 * - `GET /healthz`: liveness, always 200: `{status: "ok"}`, or `{status: "degraded", failing: […]}`
 *   while writes to the inbox fail (a full disk: events are answered 503 meanwhile), one per writer
 * - `GET /readyz`: readiness, 200 `{status: "ready"}`, or 503 (with `Retry-After`) while the inbox
 *   cannot write; asked while it cannot, it tries a write, so it sees the disk come back by itself
 *
 * @example
 * ```ts
 * const server = createReceiverServer(createReceiver({ secrets, inbox: './data/receiver.db' }));
 * server.listen(3000, '127.0.0.1');
 * ```
 */
export function createReceiverServer(receiver: Receiver): Server {
  return createServer((req, res) => {
    route(receiver, req, res).catch((error: unknown) => {
      // A status read can meet the disk full too (it writes held-back statuses first): retry later.
      const response = isStorageError(error)
        ? errorResponse('unavailable', 'The inbox cannot be read now; retry later', undefined, RETRY_AFTER)
        : errorResponse('internal', 'Internal error');
      writeNodeResponse(res, response, true);
    });
  });
}

async function route(receiver: Receiver, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // The hot path, without building a URL: the exact webhook path, no query.
  if (req.url === WEBHOOK_PATH) return handleNodeRequest(receiver, req, res);
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://receiver.invalid');
  } catch {
    return writeNodeResponse(res, errorResponse('bad_request', 'Unreadable request target'), true);
  }
  const path = url.pathname;
  if (path === WEBHOOK_PATH) return handleNodeRequest(receiver, req, res);

  let response: ReceiverResponse;
  if (path === '/healthz') {
    response = onlyGet(req) ?? liveness(receiver.health());
  } else if (path === '/readyz') {
    response = onlyGet(req) ?? readiness(await receiver.checkHealth());
  } else if (path === '/statuses' || path === '/statuses/') {
    response = onlyGet(req) ?? (await listStatuses(receiver, url.searchParams));
  } else if (path.startsWith('/statuses/')) {
    response = onlyGet(req) ?? (await getStatus(receiver, path.slice('/statuses/'.length)));
  } else {
    response = errorResponse('not_found', `No route for ${req.method ?? ''} ${path.slice(0, 200)}`);
  }
  // These routes never read a body, so one that was sent is left unread: close rather than drain it.
  writeNodeResponse(res, response, !req.complete);
}

const RETRY_AFTER = { 'retry-after': String(INBOX_RETRY_AFTER_SECONDS) };

function liveness(health: ReceiverHealth): ReceiverResponse {
  if (health.writable) return jsonResponse(200, { status: 'ok' });
  return jsonResponse(200, { status: 'degraded', failing: failingJson(health) });
}

function readiness(health: ReceiverHealth): ReceiverResponse {
  if (health.writable) return jsonResponse(200, { status: 'ready' });
  return errorResponse(
    'inbox_unavailable',
    'The inbox cannot write; events are answered 503',
    { failing: failingJson(health) },
    RETRY_AFTER,
  );
}

function failingJson(health: ReceiverHealth) {
  return health.failing.map((f) => ({
    writer: f.writer,
    since: f.since.toISOString(),
    error: f.error,
    failed_writes: f.failures,
  }));
}

function onlyGet(req: IncomingMessage): ReceiverResponse | undefined {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  return errorResponse('method_not_allowed', 'Only GET is allowed here', undefined, { allow: 'GET, HEAD' });
}

async function getStatus(receiver: Receiver, rest: string): Promise<ReceiverResponse> {
  const segments = rest.split('/');
  const [customerId, ref] = segments.map(decode);
  if (segments.length !== 2 || !customerId || !ref) {
    return errorResponse('not_found', 'Use /statuses/{customer_id}/{client_customer_ref}');
  }
  const record = await receiver.inbox.getStatus(customerId, ref);
  if (!record) {
    return errorResponse('not_found', 'No status received yet for this third-party customer', {
      customer_id: customerId,
      client_customer_ref: ref,
    });
  }
  return jsonResponse(200, toJson(record));
}

async function listStatuses(receiver: Receiver, query: URLSearchParams): Promise<ReceiverResponse> {
  const limitText = query.get('limit') ?? '100';
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 1000) {
    return errorResponse('bad_request', 'limit must be an integer from 1 to 1000', { limit: limitText });
  }
  const customerId = query.get('customer_id');
  const records = await receiver.inbox.listStatuses(
    customerId === null || customerId === '' ? { limit } : { customerId, limit },
  );
  return jsonResponse(200, { statuses: records.map(toJson) });
}

function toJson(record: CustomerStatusRecord) {
  return {
    customer_id: record.customerId,
    client_customer_ref: record.clientCustomerRef,
    status: record.status,
    reasons: record.reasons,
    event_timestamp: record.eventTimestamp,
    event_id: record.eventId,
    updated_at: record.updatedAt.toISOString(),
  };
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined; // malformed %-escape: no such third party
  }
}
