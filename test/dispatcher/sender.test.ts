import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusedRange } from '../../src/webhooks/dispatcher/address-guard.js';
import type { AttemptResult } from '../../src/webhooks/dispatcher/outcome.js';
import {
  createSender,
  type SenderOptions,
  sharedDeadlines,
  USER_AGENT,
} from '../../src/webhooks/dispatcher/sender.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OLD_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
const PAYLOAD = '{"event_id":"e1","event_type":"THIRD PARTY CUSTOMER STATUS", "note":"spacing kept"}';

interface Seen {
  headers: http.IncomingHttpHeaders;
  body: string;
  socket: unknown;
}

let server: http.Server;
let base: string;
const seen: Seen[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socket: req.socket.remotePort,
      });
      const path = req.url ?? '/';
      if (path === '/ok') return res.writeHead(200).end('thanks');
      if (path === '/big') return res.writeHead(500).end('x'.repeat(10_000));
      if (path === '/huge') return res.writeHead(200).end('é'.repeat(200_000)); // 400 kB
      if (path === '/busy') return res.writeHead(503, { 'retry-after': '7' }).end();
      if (path === '/redirect') return res.writeHead(302, { location: '/ok' }).end();
      if (path === '/hang') return; // never answers
      if (path === '/trickle') {
        // headers at once, then a byte every 50 ms for ever: no idle timeout ever fires
        res.writeHead(200);
        const drip = setInterval(() => res.write('.'), 50);
        res.on('close', () => clearInterval(drip));
        return;
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** One attempt of a new sender (private endpoints allowed) with a small body, closed after. */
async function sendOnce(url: string, options: SenderOptions = {}): Promise<AttemptResult> {
  const sender = createSender({ allowPrivateEndpoints: true, ...options });
  try {
    return await sender.send({ url, messageId: 'a', payload: '{}', secrets: [SECRET] });
  } finally {
    await sender.close();
  }
}

describe('sender', () => {
  it('POSTs the exact bytes, signed with every secret, verifiable with svix', async () => {
    const sender = createSender({ allowPrivateEndpoints: true });
    const result = await sender.send({
      url: `${base}/ok`,
      messageId: 'e1',
      payload: PAYLOAD,
      secrets: [SECRET, OLD_SECRET],
    });
    await sender.close();
    expect(result).toMatchObject({ statusCode: 200, errorKind: null, responseExcerpt: 'thanks' });
    const req = seen.at(-1);
    expect(req?.body).toBe(PAYLOAD);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['user-agent']).toBe(USER_AGENT);
    expect(req?.headers['webhook-id']).toBe('e1');
    expect(req?.headers['webhook-signature']?.toString().split(' ')).toHaveLength(2);
    const headers = req?.headers as Record<string, string>;
    expect(new Webhook(SECRET).verify(PAYLOAD, headers)).toMatchObject({ event_id: 'e1' });
    expect(new Webhook(OLD_SECRET).verify(PAYLOAD, headers)).toMatchObject({ event_id: 'e1' });
  });

  it('keeps connections alive between attempts', async () => {
    const sender = createSender({ allowPrivateEndpoints: true });
    const before = seen.length;
    for (let i = 0; i < 10; i++) {
      await sender.send({ url: `${base}/ok`, messageId: `m${i}`, payload: '{}', secrets: [SECRET] });
    }
    await sender.close();
    const sockets = new Set(seen.slice(before).map((s) => s.socket));
    expect(sockets.size).toBeLessThanOrEqual(2);
  });

  it('keeps only the first 4 KiB of a response and reads Retry-After', async () => {
    const sender = createSender({ allowPrivateEndpoints: true });
    const big = await sender.send({ url: `${base}/big`, messageId: 'a', payload: '{}', secrets: [SECRET] });
    const busy = await sender.send({ url: `${base}/busy`, messageId: 'a', payload: '{}', secrets: [SECRET] });
    await sender.close();
    expect(big.statusCode).toBe(500);
    expect(big.responseExcerpt).toHaveLength(4096);
    expect(busy).toMatchObject({ statusCode: 503, retryAfterMs: 7000 });
  });

  it('stops reading a body past 64 KiB and keeps the answer with its excerpt', async () => {
    const sender = createSender({ allowPrivateEndpoints: true });
    const huge = await sender.send({ url: `${base}/huge`, messageId: 'a', payload: '{}', secrets: [SECRET] });
    const next = await sender.send({ url: `${base}/ok`, messageId: 'b', payload: '{}', secrets: [SECRET] });
    await sender.close();
    expect(huge).toMatchObject({ statusCode: 200, errorKind: null });
    expect(huge.responseExcerpt).toBe('é'.repeat(2048));
    expect(next).toMatchObject({ statusCode: 200, responseExcerpt: 'thanks' });
  });

  it('does not follow redirects', async () => {
    const before = seen.length;
    const result = await sendOnce(`${base}/redirect`);
    expect(result.statusCode).toBe(302);
    expect(seen.length).toBe(before + 1);
  });

  it('times out an attempt that gets no answer', async () => {
    const result = await sendOnce(`${base}/hang`, { timeoutMs: 300 });
    expect(result).toMatchObject({ statusCode: null, errorKind: 'timeout' });
    // ended by the 300 ms timeout, not by some earlier failure
    expect(result.durationMs).toBeGreaterThanOrEqual(250);
  });

  it('ends an attempt whose answer never ends at the attempt timeout, counted from its start', async () => {
    const result = await sendOnce(`${base}/trickle`, { timeoutMs: 300 });
    expect(result).toMatchObject({ statusCode: null, errorKind: 'timeout' });
    // the whole attempt within the timeout and one slice of it (30 ms), plus scheduling
    expect(result.durationMs).toBeGreaterThanOrEqual(295);
    expect(result.durationMs).toBeLessThan(1500);
  });

  it('reports a refused connection', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await sendOnce(`http://127.0.0.1:${port}/`);
    expect(result).toMatchObject({ statusCode: null, errorKind: 'connection' });
  });

  it('refuses private addresses, by literal and by the name resolved at connect time', async () => {
    const sender = createSender();
    const before = seen.length;
    const literal = await sender.send({
      url: `${base}/ok`,
      messageId: 'a',
      payload: '{}',
      secrets: [SECRET],
    });
    const port = new URL(base).port;
    const named = await sender.send({
      url: `http://localhost:${port}/ok`,
      messageId: 'a',
      payload: '{}',
      secrets: [SECRET],
    });
    await sender.close();
    expect(literal).toMatchObject({ statusCode: null, errorKind: 'private_address' });
    expect(named).toMatchObject({ statusCode: null, errorKind: 'private_address' });
    expect(seen.length).toBe(before);
  });

  it('classifies address ranges', () => {
    expect(refusedRange('8.8.8.8')).toBeNull();
    expect(refusedRange('2001:4860:4860::8888')).toBeNull();
    expect(refusedRange('127.0.0.1')).toBe('loopback');
    expect(refusedRange('10.1.2.3')).toBe('private');
    expect(refusedRange('169.254.169.254')).toBe('linkLocal');
    expect(refusedRange('::1')).toBe('loopback');
    expect(refusedRange('::ffff:192.168.0.1')).toBe('private');
    expect(refusedRange('fd00::1')).toBe('uniqueLocal');
    expect(refusedRange('0.0.0.0')).toBe('unspecified');
    expect(refusedRange('100.64.0.1')).toBe('carrierGradeNat');
  });
});

describe('sharedDeadlines', () => {
  it('gives the attempts of one slice one timer, ending those still running one timeout and one slice after the first', async () => {
    const deadline = sharedDeadlines(200); // slices of 20 ms
    const started = performance.now();
    const ended = new Map<string, { at: number; reason: Error }>();
    const attempt = (name: string) => ({
      timeout: (reason: Error) => ended.set(name, { at: performance.now() - started, reason }),
    });
    const slice = deadline(attempt('a'));
    const finished = attempt('finished');
    expect(deadline(finished)).toBe(slice);
    slice.delete(finished); // it ended before its time
    await new Promise((r) => setTimeout(r, 30));
    expect(deadline(attempt('c'))).not.toBe(slice);
    await new Promise((r) => setTimeout(r, 400));
    expect([...ended.keys()].sort()).toEqual(['a', 'c']);
    expect(ended.get('a')?.at).toBeGreaterThanOrEqual(200);
    expect(ended.get('a')?.at).toBeLessThan(1000);
    expect(ended.get('a')?.reason).toMatchObject({ name: 'TimeoutError' });
    // c started 30 ms later, in a slice of its own
    expect(ended.get('c')?.at).toBeGreaterThanOrEqual(230);
  });
});
