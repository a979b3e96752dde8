/**
 * The newcomer's path with a real process and real sockets: `node bin/tpcs.js serve` on a free port
 * with a temporary SQLite file, the admin token read from its output, curl-like requests with fetch,
 * then SIGTERM and a clean exit. Needs `npm run build` first (bin/tpcs.js runs dist/).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reachableUrl } from '../../src/http/server.js';
import { api, type Daemon, start } from '../cli/processes.js';
import { validThirdParty } from '../customers/fixtures.js';
import { freePort } from '../support/net.js';
import { waitFor } from '../support/wait-for.js';

describe('tpcs serve (real process)', () => {
  let dir: string;
  let serve: Daemon;
  let base: string;
  let adminToken: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tpcs-e2e-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // no ADMIN_TOKEN (start() leaves the developer's out): serve makes one and prints it
    serve = start(['serve'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dir, 'nested', 'tpcs.db')}`,
      ALLOW_PRIVATE_ENDPOINTS: 'true',
      LOG_LEVEL: 'info',
    });
    adminToken = (
      await serve.waitFor(/Admin token \(shown only this once, store it now\): (tpcs_adm_\S+)/)
    )[1] as string;
    // the host as given, with a link to each page
    await serve.waitFor(
      new RegExp(`listening on ${base} \\(dashboard: ${base}/dashboard, API reference: ${base}/docs\\)`),
    );
  });

  afterAll(() => {
    if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (method: string, path: string, token: string, body?: unknown) =>
    api(base, method, path, token, body);

  it('walks the newcomer path over real HTTP, delivers the event, logs JSON, and exits 0 on SIGTERM', async () => {
    // The partner's receiver: answers 200 and remembers what it got.
    const received: { headers: IncomingHttpHeaders; body: string }[] = [];
    const receiver = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const receiverAddress = receiver.address();
    const receiverPort = typeof receiverAddress === 'object' && receiverAddress ? receiverAddress.port : 0;

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    const partner = await call('POST', '/api/v1/admin/partners', adminToken, {
      customer_id: '0201001008132685',
      name: 'Acme Developments',
    });
    expect(partner.status).toBe(201);
    const token = partner.body.token as string;

    const tp = await call(
      'POST',
      '/api/v1/customers/0201001008132685/third-parties',
      token,
      validThirdParty('CUST_001'),
    );
    expect(tp.status).toBe(201);
    expect(tp.body.status).toBe('PENDING');

    const endpoint = await call('POST', '/api/v1/customers/0201001008132685/webhooks', token, {
      url: `http://127.0.0.1:${receiverPort}/webhooks`,
      event_types: ['THIRD PARTY CUSTOMER STATUS'],
    });
    expect(endpoint.status).toBe(201);
    expect(endpoint.body.secret).toMatch(/^whsec_/);

    const decision = await call(
      'POST',
      '/api/v1/admin/customers/0201001008132685/third-parties/CUST_001/decision',
      adminToken,
      {
        status: 'REJECTED',
        reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' }],
      },
    );
    expect(decision.status).toBe(200);
    const event = decision.body.event as { event_id: string };

    const events = await call('GET', '/api/v1/customers/0201001008132685/events', token);
    expect(events.status).toBe(200);
    expect(events.body.events).toEqual([
      expect.objectContaining({
        event_id: event.event_id,
        event_type: 'THIRD PARTY CUSTOMER STATUS',
        data: expect.objectContaining({ client_customer_ref: 'CUST_001', status: 'REJECTED' }),
      }),
    ]);

    // The dispatcher running beside the API delivers it, signed.
    await waitFor(() => received.length > 0, { what: 'the delivery' });
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]?.body ?? '{}').event_id).toBe(event.event_id);
    expect(received[0]?.headers['webhook-id']).toBe(event.event_id);
    expect(received[0]?.headers['webhook-signature']).toMatch(/^v1,/);
    receiver.close();

    // What the dispatcher counted reaches /metrics: every metric docs/delivery.md names is served, and
    // the delivery is counted once it is recorded (the attempt is written just after the 2xx).
    const paragraph = /Metrics at `\/metrics`:[\s\S]*?(?:\n\n|$)/.exec(
      readFileSync('docs/delivery.md', 'utf8'),
    )?.[0];
    const documented = [...new Set(paragraph?.match(/`tpcs_[a-z_]+/g)?.map((m) => m.slice(1)) ?? [])];
    expect(documented.length).toBeGreaterThanOrEqual(8);
    const scrape = async () => (await fetch(`${base}/metrics`)).text();
    await expect
      .poll(scrape, { timeout: 10_000 })
      .toMatch(/^tpcs_delivery_attempts_total\{outcome="delivered"\} 1$/m);
    const metrics = await scrape();
    for (const name of documented) expect(metrics, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    expect(metrics).toMatch(/^tpcs_deliveries_total\{status="delivered"\} 1$/m);
    expect(metrics).toMatch(/^tpcs_delivery_commit_to_delivery_seconds_count 1$/m);
    expect(metrics).toMatch(/^tpcs_delivery_queue_depth 0$/m);
    expect(metrics).toMatch(/^http_requests_total\{.*route="\/api\/v1\/admin\/customers/m);

    // Logs are JSON lines from pino (everything but the two plain lines meant for humans).
    const output = `${serve.output.stdout}${serve.output.stderr}`;
    const logLines = output.split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    expect(() => logLines.map((l) => JSON.parse(l))).not.toThrow();
    expect(output).not.toContain(token);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('does not print the token again on the next start', async () => {
    const port = await freePort();
    const again = start(['serve'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dir, 'nested', 'tpcs.db')}`,
    });
    await again.waitFor(/listening on/);
    expect(again.output.stdout).not.toContain('Admin token');
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
  });

  it('prints links a browser can open: localhost for the wildcard host, and they answer', async () => {
    const port = await freePort();
    const wildcard = start(['serve'], {
      PORT: String(port),
      HOST: '0.0.0.0',
      DATABASE_URL: `sqlite:${join(dir, 'nested', 'tpcs.db')}`,
    });
    try {
      const [, url, dashboard, docs] = (await wildcard.waitFor(
        /listening on (\S+) \(dashboard: (\S+), API reference: (\S+)\)/,
      )) as unknown as [string, string, string, string];
      expect(url).toBe(`http://localhost:${port}`);
      expect([dashboard, docs]).toEqual([`${url}/dashboard`, `${url}/docs`]);
      expect(wildcard.output.stdout).not.toContain('0.0.0.0');
      const root = await fetch(`http://127.0.0.1:${port}/`);
      expect(root.status).toBe(200);
      expect(await root.json()).toMatchObject({ links: { dashboard: '/dashboard', docs: '/docs' } });
      const browser = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
        redirect: 'manual',
      });
      expect([browser.status, browser.headers.get('location')]).toEqual([303, '/dashboard']);
    } finally {
      wildcard.child.kill('SIGTERM');
      expect(await wildcard.exited).toBe(0);
    }
  });

  it('names wildcard hosts localhost and brackets IPv6 literals in the links', () => {
    expect(reachableUrl('0.0.0.0', 8080)).toBe('http://localhost:8080');
    expect(reachableUrl('::', 8080)).toBe('http://localhost:8080');
    expect(reachableUrl('::1', 8080)).toBe('http://[::1]:8080');
    expect(reachableUrl('fd00::5', 80)).toBe('http://[fd00::5]:80');
    expect(reachableUrl('127.0.0.1', 3000)).toBe('http://127.0.0.1:3000');
    expect(reachableUrl('tpcs.internal', 3000)).toBe('http://tpcs.internal:3000');
  });

  it('refuses invalid configuration with a clear message and exit code 2 (usage error)', async () => {
    const bad = spawn(process.execPath, ['bin/tpcs.js', 'serve'], {
      env: { ...process.env, PORT: 'eighty', RETRY_SCHEDULE: '1s,soon', DATABASE_URL: 'mysql://x' },
    });
    let err = '';
    bad.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    // 'close', not 'exit': stderr is read to its end before the assertions
    const code = await new Promise<number | null>((resolve) => bad.once('close', (c) => resolve(c)));
    expect(code, `stderr: ${err}`).toBe(2);
    expect(err).toContain('PORT');
    expect(err).toContain('RETRY_SCHEDULE');
    expect(err).toContain('DATABASE_URL');
  });
});
