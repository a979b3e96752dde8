import type { Receiver } from '../core/receiver.js';

/**
 * A Fetch-API handler (`Request` in, `Response` out): Node 20's global Request/Response, Deno, Bun,
 * Cloudflare Workers, Next.js route handlers, Hono (`app.post('/webhook', (c) => handler(c.req.raw))`).
 * Off Node, take it (and `createReceiver`) from `tpcs/receiver/web`, which loads no Node built-in.
 *
 * @example
 * ```ts
 * const handler = createFetchHandler(receiver);
 * export const POST = handler; // e.g. a Next.js route
 * ```
 */
export function createFetchHandler(receiver: Receiver): (request: Request) => Promise<Response> {
  return async (request) => {
    const response = await receiver.handle({
      method: request.method,
      headers: request.headers,
      body: (limit) => readFetchBody(request, limit),
    });
    return new Response(response.body, { status: response.status, headers: response.headers });
  };
}

/** Reads a Fetch body up to `limitBytes`, cancelling the stream once it is exceeded. */
export async function readFetchBody(request: Request, limitBytes: number): Promise<Uint8Array | undefined> {
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limitBytes) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
