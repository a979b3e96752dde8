import path from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMemoryInbox,
  createReceiver,
  createSqliteInbox,
  type Receiver,
} from '../../src/receiver/index.js';
import { createReceiverServer } from '../../src/receiver/service/server.js';
import { answer, REASONS, recordingLogger, SECRET, signedRequest, tempDir } from './helpers.js';
import { listen } from './sockets.js';

let receiver: Receiver;
let close: () => Promise<void>;
afterEach(async () => {
  await close();
  await receiver.close();
});

async function start() {
  receiver = createReceiver({ secrets: [SECRET], inbox: createMemoryInbox(), logger: recordingLogger() });
  const started = await listen(createReceiverServer(receiver));
  close = started.close;
  return started.url;
}

async function get(url: string, method: 'GET' | 'POST' | 'DELETE' = 'GET') {
  const response = await request(url, { method });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: JSON.parse(text) as unknown };
}

describe('tpcs receive service routes', () => {
  it('serves the status table kept from POST /webhook', async () => {
    const url = await start();
    for (const q of [
      signedRequest({ customerId: 'C1', ref: 'REF-1', status: 'APPROVED', at: '2025-01-01T00:00:00Z' }),
      signedRequest({ customerId: 'C1', ref: 'REF-1', status: 'REJECTED', at: '2025-01-02T00:00:00Z' }),
      signedRequest({ customerId: 'C1', ref: 'REF_0', status: 'APPROVED' }),
      signedRequest({ customerId: 'C2', ref: 'REF-1', status: 'APPROVED' }),
    ]) {
      const response = await request(`${url}/webhook`, { method: 'POST', headers: q.headers, body: q.body });
      expect(response.statusCode).toBe(200);
      await response.body.dump();
    }
    const one = await get(`${url}/statuses/C1/REF-1`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      customer_id: 'C1',
      client_customer_ref: 'REF-1',
      status: 'REJECTED',
      reasons: REASONS,
      event_timestamp: '2025-01-02T00:00:00Z',
    });
    const approved = (await get(`${url}/statuses/C1/REF_0`)).body as { reasons: unknown };
    expect(approved.reasons).toBeNull();
    const list = (await get(`${url}/statuses?customer_id=C1`)).body as {
      statuses: { client_customer_ref: string }[];
    };
    expect(list.statuses.map((s) => s.client_customer_ref)).toEqual(['REF-1', 'REF_0']);
    const all = (await get(`${url}/statuses?limit=2`)).body as { statuses: unknown[] };
    expect(all.statuses).toHaveLength(2);
  });

  it('answers JSON errors for unknown statuses, routes, methods and queries', async () => {
    const url = await start();
    const unknown = await get(`${url}/statuses/C9/NOPE`);
    expect([unknown.status, answer(JSON.stringify(unknown.body)).error.code]).toEqual([404, 'not_found']);
    expect((await get(`${url}/statuses/C9`)).status).toBe(404);
    expect((await get(`${url}/statuses/C9/%E0%A4%A/x`)).status).toBe(404);
    expect((await get(`${url}/nope`)).status).toBe(404);
    const wrongMethod = await get(`${url}/statuses`, 'DELETE');
    expect([wrongMethod.status, wrongMethod.headers.allow]).toEqual([405, 'GET, HEAD']);
    expect((await get(`${url}/statuses?limit=0`)).status).toBe(400);
    expect((await get(`${url}/statuses?limit=abc`)).status).toBe(400);
    expect((await get(`${url}/webhook`)).status).toBe(405);
  });

  it('GET /healthz and GET /readyz', async () => {
    const url = await start();
    expect(await get(`${url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await get(`${url}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready' } });
    expect((await get(`${url}/readyz`, 'POST')).status).toBe(405);
  });

  it('while the inbox cannot write: 503 with Retry-After, degraded and not ready; all well again after', async () => {
    const file = path.join(tempDir(), 'inbox.db');
    const inbox = createSqliteInbox(file, { logger: recordingLogger() });
    inbox.database.pragma('busy_timeout = 0');
    receiver = createReceiver({ secrets: [SECRET], inbox, logger: recordingLogger() });
    const started = await listen(createReceiverServer(receiver));
    close = async () => {
      await started.close();
      await inbox.close();
    };
    const held = signedRequest({ customerId: 'C1', ref: 'HELD' });
    expect((await receiver.handle(held)).status).toBe(200);
    // Its status is written by a timer 50 ms on: take the write lock before (what a full disk does too,
    // as SQLITE_FULL; see test/faults/receive.test.ts for the real thing).
    const blocker = new Database(file);
    blocker.exec('BEGIN IMMEDIATE');

    const post = async () => {
      const q = signedRequest({ customerId: 'C1', ref: 'NEW' });
      const response = await request(`${started.url}/webhook`, {
        method: 'POST',
        headers: q.headers,
        body: q.body,
      });
      return {
        status: response.statusCode,
        retryAfter: response.headers['retry-after'],
        body: answer(await response.body.text()),
      };
    };
    expect(await post()).toMatchObject({
      status: 503,
      retryAfter: '10',
      body: { error: { code: 'inbox_unavailable' } },
    });
    const degraded = await get(`${started.url}/healthz`);
    expect(degraded).toMatchObject({
      status: 200,
      body: {
        status: 'degraded',
        // and the status projection too, once its timer has met the lock
        failing: expect.arrayContaining([
          {
            writer: 'inbox',
            since: expect.any(String),
            error: expect.stringMatching(/^SQLITE_BUSY/),
            failed_writes: 1,
          },
        ]),
      },
    });
    const notReady = await get(`${started.url}/readyz`);
    expect([
      notReady.status,
      notReady.headers['retry-after'],
      answer(JSON.stringify(notReady.body)).error.code,
    ]).toEqual([503, '10', 'inbox_unavailable']);
    // The held status cannot be written before it is read: 503 too, never a 500.
    const read = await get(`${started.url}/statuses/C1/HELD`);
    expect([read.status, read.headers['retry-after'], answer(JSON.stringify(read.body)).error.code]).toEqual([
      503,
      '10',
      'unavailable',
    ]);

    blocker.exec('ROLLBACK');
    blocker.close();
    // No event needs to arrive for readiness to notice: it tries a write of its own.
    expect(await get(`${started.url}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready' } });
    expect(await get(`${started.url}/statuses/C1/HELD`)).toMatchObject({
      status: 200,
      body: { event_id: held.eventId },
    });
    expect(await post()).toMatchObject({ status: 200 });
    expect(await get(`${started.url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});
