/**
 * The commands that drive a running service, as real processes against `tpcs serve` (temporary
 * SQLite, RETRY_SCHEDULE=1s): partners create, tokens reset, listen (forwarded byte for byte, signed
 * with the printed secret), recover --wait and replay. Needs `npm run build`.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/signing/index.js';
import { validThirdParty } from '../customers/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { api, localServer, start, startServe, tpcs } from './processes.js';

const CUSTOMER = '0201001008132685';

describe('tpcs against a running service', () => {
  let serve: Awaited<ReturnType<typeof startServe>>;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    // The commands' answers are what is tested, not the database timeout. In a stress run, `endpoints
    // update` failed once (exit 1) while a PostgreSQL checkpoint beside it synced thousands of test files
    // and other tests' statements hit their 5 s timeout: most likely this service's own 5 s default.
    serve = await startServe({ DATABASE_TIMEOUT: '30s' });
    env = { TPCS_API: serve.base, ADMIN_TOKEN: serve.adminToken };
  });
  afterAll(() => {
    serve?.child.kill('SIGKILL');
  });

  it('sets up a partner and its endpoint twice over, as a script would (--if-exists, -q)', async () => {
    const partner = '0201009999000001';
    const create = ['partners', 'create', '--customer-id', partner, '--if-exists', 'reset-token', '-q'];
    const first = await tpcs(create, { env });
    expect([first.code, first.stderr]).toEqual([0, '']);
    expect(first.stdout).toMatch(/^tpcs_pk_\S+\n$/);
    const second = await tpcs(create, { env });
    expect(second.code).toBe(0);
    expect(second.stderr).toBe(
      `Partner ${partner} exists already: replacing its token (the old one stops working).\n`,
    );
    const token = second.stdout.trim();
    expect(token).toMatch(/^tpcs_pk_/);
    expect(token).not.toBe(first.stdout.trim());
    expect(
      (await api(serve.base, 'GET', `/api/v1/customers/${partner}/webhooks`, first.stdout.trim())).status,
    ).toBe(401);

    const partnerEnv = { TPCS_API: serve.base, TPCS_TOKEN: token, TPCS_CUSTOMER_ID: partner };
    const url = 'http://127.0.0.1:9/hook';
    const made = await tpcs(['endpoints', 'create', '--url', url, '-q'], { env: partnerEnv });
    expect([made.code, made.stderr]).toEqual([0, '']);
    expect(made.stdout).toMatch(/^whsec_\S+\n$/);
    // the same URL again: refused, and the first line says which endpoint has it
    const refused = await tpcs(['endpoints', 'create', '--url', url], { env: partnerEnv });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^error: endpoint_exists: Webhook endpoint [0-9a-f-]{36} already has the URL/,
    );
    const rotated = await tpcs(['endpoints', 'create', '--url', url, '--if-exists', 'rotate-secret', '-q'], {
      env: partnerEnv,
    });
    expect(rotated.code).toBe(0);
    expect(rotated.stderr).toMatch(
      /^Endpoint [0-9a-f-]{36} already has the URL http:\/\/127\.0\.0\.1:9\/hook: rotating/,
    );
    expect(rotated.stdout).toMatch(/^whsec_\S+\n$/);
    expect(rotated.stdout).not.toBe(made.stdout);

    const listed = await tpcs(['endpoints', 'list'], { env: partnerEnv });
    expect(listed.code).toBe(0);
    const [line, ...rest] = listed.stdout.trim().split('\n');
    expect(rest).toEqual([]);
    const id = line?.split(/\s+/)[0] ?? '';
    expect(line).toMatch(new RegExp(`^[0-9a-f-]{36}  enabled   ${url.replaceAll('.', '\\.')}$`));
    const json = await tpcs(['endpoints', 'rotate-secret', '--webhook', id, '--json'], { env: partnerEnv });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      status: 200,
      body: {
        id,
        url,
        secret: expect.stringMatching(/^whsec_/),
        previous_secret_expires_at: expect.any(String),
      },
    });

    // a rate limit, set, shown by list, and taken off again
    const limited = await tpcs(['endpoints', 'update', '--webhook', id, '--rate-limit', '20'], {
      env: partnerEnv,
    });
    expect([limited.code, limited.stdout]).toEqual([
      0,
      `Updated endpoint ${id}: ${url}\nAt most 20 deliveries per second.\n`,
    ]);
    expect((await tpcs(['endpoints', 'list'], { env: partnerEnv })).stdout).toContain(
      `${url}  (at most 20/s)`,
    );
    const unlimited = await tpcs(['endpoints', 'update', '--webhook', id, '--rate-limit', 'none', '--json'], {
      env: partnerEnv,
    });
    expect(JSON.parse(unlimited.stdout)).toMatchObject({ status: 200, body: { id, rate_limit: null } });
    const limitedToo = await tpcs(
      ['endpoints', 'create', '--url', 'http://127.0.0.1:9/other', '--rate-limit', '5', '--json'],
      { env: partnerEnv },
    );
    expect(JSON.parse(limitedToo.stdout)).toMatchObject({ status: 201, body: { rate_limit: 5 } });
  });

  it('creates a partner, resets its token, listens, recovers and replays', async () => {
    // Each step is logged with its time: CI at full load once ran this test into its timeout with
    // nothing said, and the log then shows the last step reached.
    const t0 = performance.now();
    const step = (what: string) =>
      console.log(`[service test] ${Math.round(performance.now() - t0)} ms: ${what}`);
    // partners create: the token once; a second create is refused (exit 1).
    const created = await tpcs(
      ['partners', 'create', '--customer-id', CUSTOMER, '--name', 'Acme', '--json'],
      { env },
    );
    expect(created.code).toBe(0);
    const firstToken = JSON.parse(created.stdout).body.token as string;
    expect(firstToken).toMatch(/^tpcs_pk_/);
    const again = await tpcs(['partners', 'create', '--customer-id', CUSTOMER], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: conflict: [^\n]+\n$/);

    step('tokens reset');
    // tokens reset: a new token, the old one refused from now on.
    const reset = await tpcs(['tokens', 'reset', '--customer-id', CUSTOMER, '--api', serve.base], {
      env: { ADMIN_TOKEN: serve.adminToken },
    });
    expect(reset.code).toBe(0);
    const token = /: (tpcs_pk_\S+)$/m.exec(reset.stdout)?.[1] as string;
    expect((await api(serve.base, 'GET', `/api/v1/customers/${CUSTOMER}/webhooks`, firstToken)).status).toBe(
      401,
    );
    expect((await tpcs(['tokens', 'reset', '--customer-id', 'NOBODY'], { env })).code).toBe(1);
    const partnerEnv = { TPCS_API: serve.base, TPCS_TOKEN: token, TPCS_CUSTOMER_ID: CUSTOMER };

    step('endpoint and listen');
    // A subscribed endpoint that fails at first (500), and the developer's local app behind listen.
    let endpointStatus = 500;
    const endpoint = await localServer(() => ({ status: endpointStatus }));
    const app = await localServer(() => ({ status: 200 }));
    const webhook = await api(serve.base, 'POST', `/api/v1/customers/${CUSTOMER}/webhooks`, token, {
      url: `${endpoint.url}/hook`,
      event_types: ['THIRD PARTY CUSTOMER STATUS'],
    });
    expect(webhook.status).toBe(201);
    const webhookId = webhook.body.id as string;

    const listen = start(['listen', '--forward-to', `${app.url}/webhook`], partnerEnv);
    try {
      const secret = (await listen.waitFor(/signing secret is (whsec_\S+)/))[1] as string;
      expect(
        (
          await api(
            serve.base,
            'POST',
            `/api/v1/customers/${CUSTOMER}/third-parties`,
            token,
            validThirdParty('CUST_7'),
          )
        ).status,
      ).toBe(201);
      const decision = await api(
        serve.base,
        'POST',
        `/api/v1/admin/customers/${CUSTOMER}/third-parties/CUST_7/decision`,
        serve.adminToken,
        {
          status: 'REJECTED',
          reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Sanctions list match' }],
        },
      );
      expect(decision.status).toBe(200);

      step('decided; waiting for the delivery and its copy');
      await waitFor(() => app.received.length >= 1 && endpoint.received.length >= 1, {
        timeout: 15_000,
        what: 'the delivery at the endpoint and its copy at the local app',
      });
      const forwarded = app.received[0];
      const delivered = endpoint.received[0];
      // Byte for byte what the dispatcher delivers; signed with the session secret listen printed.
      expect(forwarded?.body.equals(delivered?.body ?? Buffer.alloc(0))).toBe(true);
      expect(createVerifier([secret])(forwarded?.headers ?? {}, forwarded?.body ?? '')).toMatchObject({
        ok: true,
      });
      const eventId = forwarded?.headers['webhook-id'] as string;
      expect(JSON.parse(String(forwarded?.body)).event_id).toBe(eventId);
      step('waiting for the line of listen');
      await listen.waitFor(new RegExp(`${eventId}\\s+REJECTED\\s+${CUSTOMER}/CUST_7\\s+→ 200`));
    } finally {
      listen.child.kill('SIGINT');
    }
    step('listen stopped (SIGINT); waiting for its exit');
    const late = setTimeout(() => {
      step(`listen still running 20 s after SIGINT; its output:\n${JSON.stringify(listen.output)}`);
    }, 20_000);
    expect(await listen.exited).toBe(0);
    clearTimeout(late);
    expect(listen.output.stderr).toBe('');

    step('waiting for the delivery to fail');
    // With RETRY_SCHEDULE=1s the delivery fails after two attempts; the endpoint is then fixed.
    const deliveriesPath = `/api/v1/customers/${CUSTOMER}/webhooks/${webhookId}/deliveries`;
    const deliveries = await waitFor(
      async () => {
        const listed = (await api(serve.base, 'GET', deliveriesPath, token)).body.deliveries as {
          id: string;
          status: string;
        }[];
        return listed[0]?.status === 'failed' && listed;
      },
      { timeout: 15_000, interval: 200, what: 'the delivery failed' },
    );
    endpointStatus = 200;
    const before = endpoint.received.length;

    step('recover --wait');
    const recover = await tpcs(['recover', '--webhook', webhookId, '--since', '1h', '--wait', '20'], {
      env: partnerEnv,
    });
    expect(recover.stdout).toContain('Re-queued 1 failed delivery');
    expect(recover.stdout).toContain('All delivered');
    expect(recover.stderr).toBe(''); // piped: no progress line
    expect(recover.code).toBe(0);
    expect(endpoint.received.length).toBe(before + 1);

    step('replay');
    const replay = await tpcs(['replay', '--webhook', webhookId, '--delivery', deliveries[0]?.id as string], {
      env: partnerEnv,
    });
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain('to be sent again now');
    await waitFor(() => endpoint.received.length === before + 2, { timeout: 15_000, what: 'the replay' });
    const unknown = await tpcs(['replay', '--webhook', webhookId, '--delivery', randomUUID()], {
      env: partnerEnv,
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: not_found: [^\n]+\n$/);
    // an id of another shape is caught before any request: a usage error
    const malformed = await tpcs(['replay', '--webhook', webhookId, '--delivery', 'nope'], {
      env: partnerEnv,
    });
    expect(malformed.code).toBe(2);

    step('closing the local servers');
    await Promise.all([endpoint.close(), app.close()]);
  });

  it('listen exits 1 when the service refuses the token', async () => {
    const run = await tpcs(
      ['listen', '--forward-to', 'http://127.0.0.1:1/webhook', '--customer-id', CUSTOMER],
      {
        env: { TPCS_API: serve.base, TPCS_TOKEN: 'tpcs_pk_wrong' },
      },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: unauthorized: [^\n]+$/m);
  });

  it('serve shuts down promptly with a listen stream open (last: stops the service)', async () => {
    const created = await tpcs(['partners', 'create', '--customer-id', 'P2', '--json'], { env });
    const token = JSON.parse(created.stdout).body.token as string;
    const listen = start(['listen', '--forward-to', 'http://127.0.0.1:1/webhook', '--customer-id', 'P2'], {
      TPCS_API: serve.base,
      TPCS_TOKEN: token,
    });
    try {
      await listen.waitFor(/Ready!/);
      serve.child.kill('SIGTERM');
      // 0, not the 1 of serve's forced exit after 10 s: it closed the open stream instead of waiting on it
      expect(await serve.exited).toBe(0);
    } finally {
      listen.child.kill('SIGINT');
    }
    expect(await listen.exited).toBe(0);
  });
});
