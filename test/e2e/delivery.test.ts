/**
 * End to end with real processes and sockets: `tpcs serve` (API + in-process dispatcher, SQLite),
 * a decision through the operator API, delivered to `tpcs receive` (the receiver kit) and to a
 * receiver verifying with the public `svix` package; both get the exact stored bytes. Then the
 * partner routes: deliveries with attempts, retry, recover, test. Needs `npm run build`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Webhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validThirdParty } from '../customers/fixtures.js';
import { freePort } from '../support/net.js';
import { waitFor } from '../support/wait-for.js';

const ADMIN = 'admin-token-for-delivery-e2e';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked by the assertions
type Json = any;

const children: ChildProcess[] = [];
function run(args: string[], env: Record<string, string>): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, ['bin/tpcs.js', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => lines.push(l));
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => lines.push(l));
  return { child, lines };
}

describe('delivery end to end (tpcs serve → tpcs receive and a svix receiver)', () => {
  let dir: string;
  let base: string;
  let svixServer: http.Server;
  let svixUrl: string;
  let svixSecret = '';
  const svixGot: { body: string; verified: unknown; error?: string }[] = [];
  let api: (
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ) => Promise<{ status: number; body: Json }>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tpcs-delivery-e2e-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    run(['serve'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dir, 'tpcs.db')}`,
      ADMIN_TOKEN: ADMIN,
      ALLOW_PRIVATE_ENDPOINTS: 'true',
      RETRY_SCHEDULE: '200ms,200ms',
      LOG_LEVEL: 'warn',
    });
    api = async (method, path, body, token = ADMIN) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    await waitFor(async () => (await fetch(`${base}/healthz`)).ok, { timeout: 45_000, what: 'serve' });

    svixServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        try {
          const verified = new Webhook(svixSecret).verify(body, req.headers as Record<string, string>);
          svixGot.push({ body, verified });
          res.writeHead(200).end();
        } catch (e) {
          svixGot.push({ body, verified: null, error: (e as Error).message });
          res.writeHead(401).end();
        }
      });
    });
    await new Promise<void>((r) => svixServer.listen(0, '127.0.0.1', r));
    svixUrl = `http://127.0.0.1:${(svixServer.address() as { port: number }).port}/svix`;
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    svixServer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a decision to both receivers byte for byte, then retry, recover and test work', async () => {
    const cid = '0201001008132685';
    const partner = await api('POST', '/api/v1/admin/partners', { customer_id: cid, name: 'Acme' });
    expect(partner.status).toBe(201);
    const token: string = partner.body.token;
    const p = (m: string, path: string, b?: unknown) => api(m, `/api/v1/customers/${cid}${path}`, b, token);
    const kit = await p('POST', '/webhooks', {
      url: 'http://127.0.0.1:9/later',
      event_types: ['THIRD PARTY CUSTOMER STATUS'],
    });
    const sv = await p('POST', '/webhooks', { url: svixUrl, event_types: ['THIRD PARTY CUSTOMER STATUS'] });
    expect([kit.status, sv.status]).toEqual([201, 201]);
    svixSecret = sv.body.secret;

    const receiver = run(
      ['receive', '--port', '0', '--secret', kit.body.secret, '--db', join(dir, 'receiver.db')],
      {
        WEBHOOK_SECRET: '',
      },
    );
    await waitFor(() => receiver.lines.some((l) => l.includes('"listening"')), {
      timeout: 15_000,
      what: 'receiver',
    });
    const listening = JSON.parse(receiver.lines.find((l) => l.includes('"listening"')) ?? '{}') as {
      port: number;
    };
    const receiverUrl = `http://127.0.0.1:${listening.port}`;
    expect((await p('PATCH', `/webhooks/${kit.body.id}`, { url: `${receiverUrl}/webhook` })).status).toBe(
      200,
    );

    expect((await p('POST', '/third-parties', validThirdParty('CUST_E2E'))).status).toBe(201);
    const decided = await api('POST', `/api/v1/admin/customers/${cid}/third-parties/CUST_E2E/decision`, {
      status: 'REJECTED',
      reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' }],
    });
    expect(decided.status).toBe(200);
    const events = await p('GET', '/events');
    const event = events.body.events[0];
    expect(event).toMatchObject({ event_type: 'THIRD PARTY CUSTOMER STATUS' });

    await waitFor(() => svixGot.length > 0, { what: 'svix receiver' });
    expect(svixGot[0]?.error).toBeUndefined();
    expect(svixGot[0]?.verified).toEqual(event);
    await waitFor(async () => (await fetch(`${receiverUrl}/statuses/${cid}/CUST_E2E`)).status === 200, {
      what: 'receiver kit status',
    });
    const status = await (await fetch(`${receiverUrl}/statuses/${cid}/CUST_E2E`)).json();
    expect(JSON.stringify(status)).toContain('REJECTED');

    // deliveries with attempts: the dispatcher records the answer after the receiver has it, so
    // a loaded machine may show the delivery pending for a moment after svixGot fills
    await waitFor(
      async () =>
        (await p('GET', `/webhooks/${sv.body.id}/deliveries`)).body.deliveries[0]?.status === 'delivered',
      { what: 'delivery recorded as delivered' },
    );
    const listed = await p('GET', `/webhooks/${sv.body.id}/deliveries`);
    expect(listed.status).toBe(200);
    const delivery = listed.body.deliveries[0];
    expect(delivery).toMatchObject({ event_id: event.event_id, status: 'delivered' });
    expect(delivery.attempts[0]).toMatchObject({ status_code: 200 });

    // retry sends the same bytes again
    const retried = await p('POST', `/webhooks/${sv.body.id}/deliveries/${delivery.id}/retry`);
    expect(retried.status).toBe(202);
    await waitFor(() => svixGot.length >= 2, { what: 'retry' });
    expect(svixGot[1]?.body).toBe(svixGot[0]?.body);

    // a receiver that breaks: 400 fails the delivery; recover re-queues it once fixed
    svixSecret = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
    const before = new Date(Date.now() - 60_000).toISOString();
    await api('POST', `/api/v1/admin/customers/${cid}/third-parties/CUST_E2E/decision`, {
      status: 'APPROVED',
    });
    await waitFor(
      async () =>
        (await p('GET', `/webhooks/${sv.body.id}/deliveries`)).body.deliveries[0]?.status === 'failed',
      { what: 'failed after retries (401s)' },
    );
    svixSecret = sv.body.secret;
    const recovered = await p('POST', `/webhooks/${sv.body.id}/recover`, { since: before });
    expect(recovered).toMatchObject({ status: 202, body: { requeued: 1 } });
    await waitFor(
      async () =>
        (await p('GET', `/webhooks/${sv.body.id}/deliveries`)).body.deliveries[0]?.status === 'delivered',
      { what: 'recovered' },
    );

    const test = await p('POST', `/webhooks/${sv.body.id}/test`);
    expect(test).toMatchObject({ status: 200, body: { delivered: true, status_code: 200 } });
  });
});
