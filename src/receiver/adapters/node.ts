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
  writeNodeResponse(res, response, bodyCut || !req.complete);
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
