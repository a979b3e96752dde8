/**
 * `tpcs conformance` as a real process: against `tpcs receive` (every check passes, exit 0) and
 * against sloppy receivers written here, each with the failures it deserves (exit 1). The order
 * checks run against small receivers written here, one per way of getting the order wrong.
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CheckResult, runConformance, selectChecks } from '../../src/conformance/index.js';
import { parseEvent, type ThirdPartyCustomerStatusEvent } from '../../src/contract/index.js';
import { createVerifier, generateSecret } from '../../src/signing/index.js';
import { type Daemon, localServer, start, tpcs } from '../cli/processes.js';

const SECRET = generateSecret();
type Result = { id: string; verdict: 'pass' | 'warn' | 'fail'; status: number | null };

async function conformance(url: string, extra: string[] = []) {
  const run = await tpcs([
    'conformance',
    '--url',
    url,
    '--secret',
    SECRET,
    '--large-body',
    '300000',
    ...extra,
  ]);
  return run;
}
const verdicts = (stdout: string) =>
  Object.fromEntries((JSON.parse(stdout).results as Result[]).map((r) => [r.id, r.verdict]));

describe('tpcs conformance', () => {
  const daemons: Daemon[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of daemons) d.child.kill('SIGKILL');
    await Promise.all(closers.map((c) => c()));
  });

  it('passes every check against tpcs receive, prints the table, and stays quiet on stderr when piped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tpcs-conf-'));
    const receive = start(['receive', '--port', '0', '--db', join(dir, 'r.db'), '--secret', SECRET]);
    daemons.push(receive);
    const port = (await receive.waitFor(/"port":(\d+)/))[1];
    // every check, the order ones read back through the receiver's status URL
    const total = selectChecks({ largeBodyBytes: 300000 }).length;
    const run = await conformance(`http://127.0.0.1:${port}/webhook`, [
      '--status-url',
      `http://127.0.0.1:${port}/statuses/{customer_id}/{client_customer_ref}`,
    ]);
    expect(run.stdout).toMatch(/^check\s+expect\s+got\s+result$/m);
    expect(run.stdout).not.toMatch(/FAIL|WARN/);
    expect(run.stdout).toMatch(/same second: REJECTED then APPROVED, the later wins .* PASS/);
    expect(total).toBe(27);
    expect(run.stdout).toMatch(new RegExp(`\\n${total} passed, 0 warnings, 0 failed of ${total} checks\\n$`));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });

  it('reports the right failures for a receiver that answers 200 to everything', async () => {
    const server = await localServer(() => ({ status: 200 }));
    closers.push(server.close);
    const run = await conformance(server.url, ['--json']);
    expect(run.code).toBe(1);
    const v = verdicts(run.stdout);
    expect(v.approved).toBe('pass');
    expect(v.duplicate).toBe('pass');
    for (const id of [
      'wrong-event-type',
      'impossible-date',
      'duplicate-keys',
      'not-json',
      'bad-signature',
      'missing-signature',
      'expired-timestamp',
    ]) {
      expect({ id, verdict: v[id] }).toEqual({ id, verdict: 'fail' });
    }
    expect(v['too-large']).toBe('warn');
  });

  it('fails only the signature checks for a receiver that validates payloads but ignores signatures', async () => {
    const server = await localServer((req) => ({ status: parseEvent(req.body).ok ? 200 : 400 }));
    closers.push(server.close);
    const run = await conformance(server.url, ['--json']);
    expect(run.code).toBe(1);
    const failed = Object.entries(verdicts(run.stdout))
      .filter(([, verdict]) => verdict === 'fail')
      .map(([id]) => id);
    expect(failed.sort()).toEqual([
      'bad-signature',
      'expired-timestamp',
      'far-future', // valid by the schema, but dated 1 hour ahead
      'missing-signature',
      'tampered-body',
    ]);
  });

  it('fails a receiver that verifies but answers 500 on bad JSON and 400 on a bad signature', async () => {
    const verify = createVerifier([SECRET]);
    const server = await localServer((req) => {
      if (!verify(req.headers, req.body).ok) return { status: 400 };
      try {
        JSON.parse(req.body.toString());
      } catch {
        return { status: 500 };
      }
      return { status: parseEvent(req.body).ok ? 200 : 400 };
    });
    closers.push(server.close);
    const run = await conformance(server.url);
    expect(run.code).toBe(1);
    const line = (title: string) => run.stdout.split('\n').find((l) => l.startsWith(title)) ?? '';
    expect(line('a body that is not JSON')).toMatch(/400\s+500\s+FAIL/);
    expect(line('trailing data after the JSON object')).toMatch(/400\s+500\s+FAIL/);
    expect(line('signed with another secret')).toMatch(/401\s+400\s+FAIL .*answer 401/);
    expect(line('APPROVED event')).toMatch(/200\s+200\s+PASS/);
    expect(line('data.status PENDING')).toMatch(/400\s+400\s+PASS/);
  });
});

/** How a test receiver orders one third party's events; the defaults follow the contract. */
interface Policy {
  /** On an equal event_timestamp: the later arrival wins, the greater event_id wins, or the first stays. */
  tie?: 'later' | 'greater-id' | 'first';
  /** `arrival`: the newest arrival wins whatever its event_timestamp. */
  order?: 'timestamp' | 'arrival';
  /** `accept`: no check of event_timestamp against the clock. */
  future?: 'refuse' | 'accept';
  /** Put `outcome` in the 200 bodies, as the receiver kit does. */
  outcome?: boolean;
}

/**
 * A minimal receiver on 127.0.0.1: verifies, validates, dedupes by event_id, keeps one status per
 * third party by `policy`, and serves `GET /statuses/{customer_id}/{client_customer_ref}`.
 */
async function orderReceiver(policy: Policy = {}) {
  const verify = createVerifier([SECRET]);
  const seen = new Set<string>();
  const held = new Map<string, ThirdPartyCustomerStatusEvent>();
  const key = (customerId: string, ref: string) => JSON.stringify([customerId, ref]);
  const wins = (event: ThirdPartyCustomerStatusEvent, current: ThirdPartyCustomerStatusEvent) => {
    if (policy.order === 'arrival') return true;
    const [a, b] = [Date.parse(event.event_timestamp), Date.parse(current.event_timestamp)];
    if (a !== b) return a > b;
    if (policy.tie === 'greater-id') return event.event_id > current.event_id;
    return policy.tie !== 'first';
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, json: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      const path = new URL(req.url ?? '/', 'http://receiver.invalid').pathname;
      const statusPath = /^\/statuses\/([^/]+)\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && statusPath) {
        const event = held.get(
          key(decodeURIComponent(statusPath[1] ?? ''), decodeURIComponent(statusPath[2] ?? '')),
        );
        return event ? answer(200, { status: event.data.status, event_id: event.event_id }) : answer(404, {});
      }
      if (req.method !== 'POST' || path !== '/webhook') return answer(404, {});
      const body = Buffer.concat(chunks);
      if (!verify(req.headers, body).ok) return answer(401, {});
      const parsed = parseEvent(body);
      if (!parsed.ok) return answer(400, { problems: parsed.problems });
      const event = parsed.event;
      if (policy.future !== 'accept' && Date.parse(event.event_timestamp) > Date.now() + 300_000) {
        return answer(400, { problems: [{ path: '$.event_timestamp', message: 'is in the future' }] });
      }
      const reply = (outcome: string) =>
        answer(200, { received: true, event_id: event.event_id, ...(policy.outcome ? { outcome } : {}) });
      if (seen.has(event.event_id)) return reply('duplicate');
      seen.add(event.event_id);
      const who = key(event.data.customer_id, event.data.client_customer_ref);
      const current = held.get(who);
      if (current && !wins(event, current)) return reply('stale');
      held.set(who, event);
      return reply('recorded');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/webhook`,
    statusUrl: `${base}/statuses/{customer_id}/{client_customer_ref}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('tpcs conformance: order checks', () => {
  const ORDER = ['same-second', 'older-after-newer', 'far-future'];
  const receivers: { close(): Promise<void> }[] = [];
  afterAll(() => Promise.all(receivers.map((r) => r.close())));

  /** Runs the order checks against a receiver following `policy`; results by check id. */
  async function order(policy: Policy, observe: 'status-url' | 'outcome-or-nothing') {
    const receiver = await orderReceiver(policy);
    receivers.push(receiver);
    const results = await runConformance({
      url: receiver.url,
      secret: SECRET,
      only: ORDER,
      ...(observe === 'status-url' ? { statusUrl: receiver.statusUrl } : {}),
    });
    expect(results.map((r) => r.check.id)).toEqual(ORDER);
    return Object.fromEntries(results.map((r) => [r.check.id, r])) as Record<string, CheckResult>;
  }
  const summary = (r: CheckResult | undefined) => ({ verdict: r?.verdict, note: r?.note });
  const SAME_SECOND = 'kept REJECTED: on an equal event_timestamp the later arrival must win';
  const OLDER = 'kept REJECTED: an older event_timestamp must not replace a newer one';

  it('passes a receiver that follows the rules, reading the held status from the status URL', async () => {
    const r = await order({}, 'status-url');
    for (const id of ORDER) expect({ id, ...summary(r[id]) }).toEqual({ id, verdict: 'pass', note: '' });
    expect(r['same-second']?.held).toBe('APPROVED');
    expect(r['older-after-newer']?.held).toBe('APPROVED');
    expect(r['far-future']?.status).toBe(400);
  });

  it('without a status URL, judges by the outcome of kit-style 200 bodies', async () => {
    const good = await order({ outcome: true }, 'outcome-or-nothing');
    for (const id of ORDER) expect({ id, verdict: good[id]?.verdict }).toEqual({ id, verdict: 'pass' });
    const ties = await order({ outcome: true, tie: 'greater-id' }, 'outcome-or-nothing');
    expect(ties['same-second']?.verdict).toBe('fail');
    expect(ties['same-second']?.note).toContain(SAME_SECOND);
    expect(ties['same-second']?.note).toContain(
      'outcome "stale" for the APPROVED event, expected "recorded"',
    );
    const arrival = await order({ outcome: true, order: 'arrival' }, 'outcome-or-nothing');
    expect(summary(arrival['older-after-newer']).note).toContain(OLDER);
  });

  it('fails same-second, naming the rule, for a receiver that breaks ties by event_id or keeps the first arrival', async () => {
    for (const tie of ['greater-id', 'first'] as const) {
      const r = await order({ tie }, 'status-url');
      expect({ tie, ...summary(r['same-second']) }).toEqual({ tie, verdict: 'fail', note: SAME_SECOND });
      expect(r['same-second']?.held).toBe('REJECTED');
      expect({ tie, verdict: r['older-after-newer']?.verdict }).toEqual({ tie, verdict: 'pass' });
      expect({ tie, verdict: r['far-future']?.verdict }).toEqual({ tie, verdict: 'pass' });
    }
  });

  it('fails older-after-newer for a receiver that keeps the newest arrival whatever its event_timestamp', async () => {
    const r = await order({ order: 'arrival' }, 'status-url');
    expect(summary(r['older-after-newer'])).toEqual({ verdict: 'fail', note: OLDER });
    expect(r['older-after-newer']?.status).toBe(200); // the stale event itself is rightly answered 200
    expect(r['same-second']?.verdict).toBe('pass');
  });

  it('fails far-future for a receiver that accepts an event dated 1 hour ahead', async () => {
    const r = await order({ future: 'accept' }, 'status-url');
    expect(r['far-future']).toMatchObject({ verdict: 'fail', status: 200 });
    expect(r['far-future']?.note).toMatch(/accepted an invalid payload.*more than 5 minutes ahead/);
    expect(r['same-second']?.verdict).toBe('pass');
  });

  it('warns, asking for --status-url, when the held status cannot be observed; fails on a status URL that holds nothing', async () => {
    const r = await order({}, 'outcome-or-nothing');
    for (const id of ['same-second', 'older-after-newer']) {
      expect({ id, ...summary(r[id]) }).toEqual({
        id,
        verdict: 'warn',
        note: 'cannot observe the held status: pass --status-url',
      });
    }
    expect(r['far-future']?.verdict).toBe('pass');

    const receiver = await orderReceiver();
    receivers.push(receiver);
    const [wrong] = await runConformance({
      url: receiver.url,
      secret: SECRET,
      only: ['same-second'],
      statusUrl: receiver.statusUrl.replace('{customer_id}', 'someone-else/{customer_id}'),
    });
    expect(wrong).toMatchObject({ verdict: 'fail', note: expect.stringMatching(/answered 404/) });
  });

  it('runs from the CLI as a script would: exit 0 with every check passed, 1 naming the broken rule, 2 on a bad --status-url', async () => {
    const good = await orderReceiver();
    const ties = await orderReceiver({ tie: 'greater-id' });
    receivers.push(good, ties);
    const cli = (r: typeof good, extra: string[] = []) =>
      tpcs([
        'conformance',
        '--url',
        r.url,
        '--secret',
        SECRET,
        '--large-body',
        '0',
        '--status-url',
        r.statusUrl,
        ...extra,
      ]);
    const [pass, fail, usage] = await Promise.all([
      cli(good),
      cli(ties),
      cli(good, ['--status-url', 'http://127.0.0.1:1/statuses/{customer_id}']),
    ]);
    const total = selectChecks({}).length;
    expect(pass.stdout).toMatch(/^-- order$/m);
    expect(pass.stdout).toMatch(/^same second: REJECTED then APPROVED, the later wins\s+200\s+200\s+PASS$/m);
    expect(pass.stdout).toMatch(/^event_timestamp 1 hour ahead \(signed now\)\s+400\s+400\s+PASS$/m);
    expect(pass.stdout).toMatch(
      new RegExp(`\\n${total} passed, 0 warnings, 0 failed of ${total} checks\\n$`),
    );
    expect(pass.stderr).toBe('');
    expect(pass.code).toBe(0);

    expect(fail.stdout).toMatch(
      /^same second: REJECTED then APPROVED, the later wins\s+200\s+200\s+FAIL {2}kept REJECTED: on an equal event_timestamp the later arrival must win$/m,
    );
    expect(fail.stdout).toMatch(
      new RegExp(`\\n${total - 1} passed, 0 warnings, 1 failed of ${total} checks\\n$`),
    );
    expect(fail.code).toBe(1);

    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('{client_customer_ref}');
  });
});
