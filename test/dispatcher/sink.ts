/** A real HTTP receiver for tests: records every request and answers as each path's handler says. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { type Dialect, openDatabase, type TestDatabase } from '../support/databases.js';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export type Answer =
  | {
      status: number;
      headers?: Record<string, string>;
      body?: string;
      delayMs?: number;
      /** Answer only once this settles (then after `delayMs`): holds requests until the test lets go. */
      after?: Promise<unknown>;
    }
  | 'hang';

export interface Sink {
  url(path: string): string;
  received: Received[];
  /** Requests to `path` answered `'hang'` whose connection is still open (the client has not given up). */
  hanging(path: string): number;
  /** Most requests with the same webhook-id in flight at once (2+ means a concurrent double send). */
  maxConcurrentPerId(): number;
  on(path: string, answer: (r: Received, count: number) => Answer): void;
  close(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  const received: Received[] = [];
  const handlers = new Map<string, (r: Received, count: number) => Answer>();
  const counts = new Map<string, number>();
  const inFlight = new Map<string, number>();
  const hanging = new Map<string, number>();
  let maxPerId = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const r: Received = {
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(r);
      const n = (counts.get(path) ?? 0) + 1;
      counts.set(path, n);
      const answer = handlers.get(path)?.(r, n) ?? { status: 200 };
      if (answer === 'hang') {
        hanging.set(path, (hanging.get(path) ?? 0) + 1);
        res.on('close', () => hanging.set(path, (hanging.get(path) ?? 1) - 1));
        return;
      }
      const id = String(req.headers['webhook-id']);
      const now = (inFlight.get(id) ?? 0) + 1;
      inFlight.set(id, now);
      maxPerId = Math.max(maxPerId, now);
      const reply = () => {
        inFlight.set(id, (inFlight.get(id) ?? 1) - 1);
        res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
      };
      const send = () => (answer.delayMs ? setTimeout(reply, answer.delayMs) : reply());
      if (answer.after) answer.after.then(send, send);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    hanging: (path) => hanging.get(path) ?? 0,
    maxConcurrentPerId: () => maxPerId,
    on: (path, answer) => handlers.set(path, answer),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A database of `dialect` and a sink, opened before the enclosing `describe`'s tests and closed after
 * them. Their fields are set once `beforeAll` has run: read them inside tests, not at `describe` time.
 */
export function useDatabaseAndSink(dialect: Dialect): { db: TestDatabase; sink: Sink } {
  const env = {} as { db: TestDatabase; sink: Sink };
  beforeAll(async () => {
    env.db = await openDatabase(dialect);
    env.sink = await startSink();
  });
  afterAll(async () => {
    await env.sink?.close();
    await env.db?.dispose();
  });
  return env;
}
