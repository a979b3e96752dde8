import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryInbox, createReceiver, type Receiver } from '../../src/receiver/index.js';
import { createReceiverServer } from '../../src/receiver/service/server.js';
import { answer, REASONS, recordingLogger, SECRET, signedRequest } from './helpers.js';
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

  it('GET /healthz', async () => {
    const url = await start();
    expect(await get(`${url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});
