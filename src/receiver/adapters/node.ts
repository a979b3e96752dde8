import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Receiver } from '../core/receiver.js';
import type { ReceiverResponse } from '../core/response.js';
import { readNodeBody } from './read-node-body.js';

/**
 * A `node:http` request listener for the receiver. It answers every request it is given; route
 * `POST /webhook` to it yourself if the server does more.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * createServer(createNodeHandler(receiver)).listen(3000);
 * ```
 */
export function createNodeHandler(receiver: Receiver): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    // `handle` never rejects; this only guards the socket write itself, so no rejection goes unhandled.
    handleNodeRequest(receiver, req, res).catch(() => res.destroy());
  };
}

/** The same as {@link createNodeHandler}, awaitable, for servers that route themselves (`tpcs receive`). */
export async function handleNodeRequest(
  receiver: Receiver,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let bodyCut = false;
  const response = await receiver.handle({
    method: req.method ?? 'GET',
    headers: req.headers,
    body: async (limit) => {
      const body = await readNodeBody(req, limit);
      bodyCut = body === undefined;
      return body;
    },
  });
  if (!bodyCut) {
    writeNodeResponse(res, response, !req.complete);
    return;
  }
  // A body over the limit: answer (413), then read the rest and throw it away (never kept), for a
  // bounded time and amount; past them the connection is closed. Closing at once would leave unread
  // bytes on the socket, and the kernel then sends a reset that can destroy the answer in flight: the
  // client saw EPIPE or ECONNRESET, never the 413. A body drained to its end keeps the connection usable.
  writeNodeResponse(res, response, false);
  drainOrClose(req);
}

/** How long, and how many more bytes, an over-limit request body is drained before its connection closes. */
const LINGER_MS = 2000;
const LINGER_BYTES = 16 * 1024 * 1024;

function drainOrClose(req: IncomingMessage): void {
  let drained = 0;
  const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > LINGER_BYTES) {
      clearTimeout(timer);
      req.socket.destroy();
    }
  });
  req.once('end', () => clearTimeout(timer));
  req.resume();
}

/**
 * Copies a core answer onto a Node response. When the request body was not read to its end the
 * connection is closed after the answer: the unread bytes would otherwise be parsed as the next request
 * (or drained, which is exactly the buffering the limit prevents).
 */
export function writeNodeResponse(
  res: ServerResponse,
  response: ReceiverResponse,
  closeConnection = false,
): void {
  if (res.headersSent || res.destroyed) return;
  // An explicit length: writeHead before end would otherwise mean chunked framing (more writes).
  const headers: Record<string, string | number> = {
    ...response.headers,
    'content-length': Buffer.byteLength(response.body),
  };
  if (closeConnection) headers.connection = 'close';
  res.writeHead(response.status, headers);
  res.end(response.body);
}
