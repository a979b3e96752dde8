import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

/** Listens on a free loopback port; returns the base URL and a close function. */
export async function listen(server: http.Server): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Serves a Fetch-API handler with node:http and Node 20's own global Request/Response, so the fetch
 * adapter is tested against the platform's classes (not a look-alike).
 */
export function fetchServer(handler: (request: Request) => Promise<Response>): http.Server {
  return http.createServer(async (req, res) => {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value);
      else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    }
    const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' } : {}),
    } as RequestInit);
    const response = await handler(request);
    const body = Buffer.from(await response.arrayBuffer());
    // A body not read to its end is not drained: the connection closes after the answer.
    const outgoing: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      outgoing[name] = value;
    });
    if (!req.complete) outgoing.connection = 'close';
    res.writeHead(response.status, outgoing);
    res.end(body);
  });
}

/**
 * POSTs a body that never ends (chunks forever) and resolves with the status the server answers
 * while the upload is still going: proof that the server stopped reading at its limit.
 */
export function postEndlessBody(url: string): Promise<{ status: number; body: string; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    let sentBytes = 0;
    let done = false;
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const req = http.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          done = true;
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString(), sentBytes });
          req.destroy();
        });
      },
    );
    req.on('error', (error) => {
      if (!done) reject(error);
    });
    const pump = () => {
      while (!done && sentBytes < 512 * 1024 * 1024) {
        sentBytes += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    req.write('{"event_id": "');
    pump();
  });
}
