/**
 * Slow clients against the real `tpcs serve`: one sending its headers a byte a second, one sending its
 * body a byte a second, one connecting and sending nothing, and one idle after a request on a
 * keep-alive connection. Each is answered 408 (where a request was started) and disconnected by the
 * server within its bound (HTTP_HEADERS_TIMEOUT, HTTP_REQUEST_TIMEOUT, HTTP_KEEP_ALIVE_TIMEOUT, set
 * small here), while a client sending at a normal pace is served. Needs `npm run build`.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshUrl } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';
import { ADMIN_TOKEN, type Serve, startServe } from './support.js';

const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 2000;
const KEEP_ALIVE_TIMEOUT_MS = 1000;
/** Comfortably above every bound (and Node's check of them, every quarter of the shorter one). */
const PATIENCE_MS = 10_000;

/** A raw TCP client that records what it receives and whether the server closed the connection. */
interface RawClient {
  socket: Socket;
  received(): string;
  /** True once the server has ended the connection (this client never ends it). */
  closedByServer(): boolean;
  /** Writes `text` a byte every `intervalMs` until it is all sent or the socket closes. */
  trickle(text: string, intervalMs: number): void;
}

async function rawClient(base: string): Promise<RawClient> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  // the server's FIN: answer it so that 'close' follows (a half-open socket would wait for us)
  socket.on('end', () => socket.end());
  const timers: NodeJS.Timeout[] = [];
  socket.on('close', () => {
    for (const t of timers) clearInterval(t);
  });
  return {
    socket,
    received: () => data,
    closedByServer: () => closed,
    trickle(text, intervalMs) {
      let i = 0;
      const timer = setInterval(() => {
        if (closed || i >= text.length) return clearInterval(timer);
        socket.write(text.charAt(i++));
      }, intervalMs);
      timers.push(timer);
    },
  };
}

describe('tpcs serve and slow clients', () => {
  let serve: Serve | undefined;
  const clients: RawClient[] = [];
  let dropDatabase: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const db = await freshUrl('sqlite');
    dropDatabase = db.drop;
    serve = await startServe({
      DATABASE_URL: db.url,
      HTTP_HEADERS_TIMEOUT: `${HEADERS_TIMEOUT_MS}ms`,
      HTTP_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`,
      HTTP_KEEP_ALIVE_TIMEOUT: `${KEEP_ALIVE_TIMEOUT_MS}ms`,
    });
  });
  afterAll(async () => {
    for (const c of clients) c.socket.destroy();
    await serve?.stop();
    await dropDatabase?.();
  });

  const open = async () => {
    const c = await rawClient(serve?.base ?? '');
    clients.push(c);
    return c;
  };
  const cutOff = (c: RawClient, what: string) =>
    waitFor(() => c.closedByServer(), { timeout: PATIENCE_MS, what: `the server closing ${what}` });

  it('cuts off a client sending its headers a byte a second', async () => {
    const c = await open();
    c.trickle(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(100)}\r\n\r\n`, 1000);
    await cutOff(c, 'the headers trickle');
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts off a client sending its body a byte a second', async () => {
    const c = await open();
    const body = JSON.stringify({ customer_id: '0201001008132685', name: 'Acme' });
    c.socket.write(
      'POST /api/v1/admin/partners HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `Authorization: Bearer ${ADMIN_TOKEN}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    c.trickle(body, 1000);
    await cutOff(c, 'the body trickle');
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts off a client that connects and sends nothing', async () => {
    const c = await open();
    await cutOff(c, 'a silent connection');
  });

  it('closes a keep-alive connection idle after its request, and serves a client at a normal pace', async () => {
    const c = await open();
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => c.received().includes('"status":"ok"'), { what: 'the /healthz answer' });
    expect(c.received()).toMatch(/^HTTP\/1\.1 200 /);
    await cutOff(c, 'an idle keep-alive connection');
  });
});
