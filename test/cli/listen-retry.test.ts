/**
 * `tpcs listen` against a service that is busy or refuses: a 503 or a 429 (with `Retry-After`) is
 * waited for and the stream connected again; a 401, 403 or 404 ends it with exit 1 and one line
 * saying what to check. The service is a real HTTP server speaking the event stream's protocol.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { retryWait } from '../../src/cli/commands/listen.js';
import { errorBody } from '../../src/errors/index.js';
import { waitFor } from '../support/wait-for.js';
import { localServer, start, tpcs } from './processes.js';

const CUSTOMER = '0201001008132685';
const EVENT_ID = '01964b9e-7c1a-7d3e-8f20-3a4b5c6d7e8f';
const EVENT = JSON.stringify({
  event_id: EVENT_ID,
  event_type: 'THIRD PARTY CUSTOMER STATUS',
  event_timestamp: '2025-01-31T10:00:00Z',
  version: 'v1.0.0',
  data: { customer_id: CUSTOMER, client_customer_ref: 'CUST_1', status: 'APPROVED' },
});

/** One answer of the fake service to a stream request. */
type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'stream';

/** A service answering the n-th stream request with `answers[n]` (the last one again after that). */
async function fakeService(answers: Answer[]) {
  const requests: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.headers);
    const answer = answers[Math.min(requests.length - 1, answers.length - 1)] as Answer;
    if (answer === 'stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`: connected\n\nevent: event\nid: ${EVENT_ID}\ndata: ${EVENT}\n\n`);
      return; // held open, as the service holds it
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('tpcs listen when the service refuses', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it('waits out a 503 and a 429 as Retry-After says, then forwards', async () => {
    const service = await fakeService([
      {
        status: 503,
        headers: { 'retry-after': '1' },
        body: JSON.stringify(errorBody('unavailable', 'Too many event streams')),
      },
      {
        status: 429,
        headers: { 'retry-after': '1' },
        body: JSON.stringify(errorBody('rate_limited', 'Too many event streams for this partner')),
      },
      'stream',
    ]);
    const app = await localServer();
    closers.push(service.close, app.close);
    const listen = start(['listen', '--forward-to', `${app.url}/webhook`], {
      TPCS_API: service.url,
      TPCS_TOKEN: 'tpcs_pk_test',
      TPCS_CUSTOMER_ID: CUSTOMER,
    });
    try {
      await listen.waitFor(new RegExp(`${EVENT_ID}\\s+APPROVED\\s+${CUSTOMER}/CUST_1\\s+→ 200`));
    } finally {
      listen.child.kill('SIGINT');
    }
    expect(await listen.exited).toBe(0);
    expect(service.requests).toHaveLength(3);
    expect(app.received.map((r) => String(r.body))).toEqual([EVENT]);
    expect(listen.output.stderr.trim().split('\n')).toEqual([
      'tpcs listen: the service answered 503; connecting again in 1 s (error: unavailable: Too many event streams)',
      'tpcs listen: the service answered 429; connecting again in 1 s (error: rate_limited: Too many event streams for this partner)',
    ]);
  });

  it('waits at most a minute, whatever Retry-After asks', async () => {
    const service = await fakeService([{ status: 503, headers: { 'retry-after': '3600' } }]);
    closers.push(service.close);
    const listen = start(['listen', '--forward-to', 'http://127.0.0.1:1/webhook'], {
      TPCS_API: service.url,
      TPCS_TOKEN: 'tpcs_pk_test',
      TPCS_CUSTOMER_ID: CUSTOMER,
    });
    const stderr = () => listen.output.stderr;
    try {
      await waitFor(() => stderr().includes('\n'), { timeout: 20_000, what: 'the line about the 503' });
    } finally {
      listen.child.kill('SIGINT');
    }
    expect(stderr()).toBe(
      'tpcs listen: the service answered 503; connecting again in 60 s (error: HTTP 503 Service Unavailable)\n',
    );
    expect(await listen.exited).toBe(0);
  });

  it.each([
    [401, 'unauthorized', 'Missing or invalid bearer token', 'check --token or TPCS_TOKEN'],
    [403, 'unauthorized', 'This token is for another partner', "check that the token is this partner's"],
    [
      404,
      'not_found',
      `No partner ${CUSTOMER}`,
      'check --customer-id or TPCS_CUSTOMER_ID, and --api or TPCS_API',
    ],
  ] as const)('ends with exit 1 on a %i, saying what to check', async (status, code, message, hint) => {
    const service = await fakeService([{ status, body: JSON.stringify({ error: { code, message } }) }]);
    closers.push(service.close);
    const run = await tpcs(['listen', '--forward-to', 'http://127.0.0.1:1/webhook'], {
      env: { TPCS_API: service.url, TPCS_TOKEN: 'tpcs_pk_test', TPCS_CUSTOMER_ID: CUSTOMER },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `error: ${code}: ${message}; ${hint}${status === 403 ? ': --customer-id or TPCS_CUSTOMER_ID' : ''}\n`,
    );
    expect(run.stdout).toBe('');
    expect(service.requests).toHaveLength(1);
  });
});

describe('retryWait', () => {
  it('takes Retry-After in seconds or as a date, else backs off, between half a second and a minute', () => {
    const now = Date.parse('2025-01-31T10:00:00Z');
    expect(retryWait('5', 1, now)).toBe(5000);
    expect(retryWait('0', 1, now)).toBe(500);
    expect(retryWait('86400', 1, now)).toBe(60_000);
    expect(retryWait('Fri, 31 Jan 2025 10:00:07 GMT', 1, now)).toBe(7000);
    expect([1, 2, 3, 10].map((n) => retryWait(undefined, n, now))).toEqual([1000, 2000, 4000, 60_000]);
  });
});
