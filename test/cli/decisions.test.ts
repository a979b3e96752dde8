/**
 * `tpcs decisions` as a real process against `tpcs serve` (temporary SQLite): JSON Lines from a file
 * or stdin, sent in order in chunks of --batch-size (seen by a recording proxy in front of the
 * service), refused decisions reported by line, malformed input refused before anything is sent,
 * and --json read line by line. Needs `npm run build`.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validThirdParty } from '../customers/fixtures.js';
import { api, freePort, startServe, tpcs } from './processes.js';

const PARTNER = '0201001008139900';
const REASONS = [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Sanctions list match' }];
const approve = (ref: string) => ({ customer_id: PARTNER, client_customer_ref: ref, status: 'APPROVED' });
const reject = (ref: string) => ({
  customer_id: PARTNER,
  client_customer_ref: ref,
  status: 'REJECTED',
  reasons: REASONS,
});
/** JSON Lines: one line per item; a string item is written as it is (a blank or malformed line). */
const jsonl = (...items: unknown[]) =>
  `${items.map((item) => (typeof item === 'string' ? item : JSON.stringify(item))).join('\n')}\n`;

interface EventView {
  event_id: string;
  event_timestamp: string;
  data: { client_customer_ref: string; status: string };
}

describe('tpcs decisions', () => {
  let serve: Awaited<ReturnType<typeof startServe>>;
  let env: NodeJS.ProcessEnv;
  let token: string;
  let files = 0;

  /** Writes `text` to a new file in the service's temporary folder and returns its path. */
  const file = (text: string) => {
    const path = join(serve.dir, `decisions-${++files}.jsonl`);
    writeFileSync(path, text);
    return path;
  };
  const status = async (ref: string) =>
    (await api(serve.base, 'GET', `/api/v1/customers/${PARTNER}/third-parties/${ref}`, token)).body
      .status as string;
  /** The partner's events, oldest first. */
  const events = async () =>
    (
      (await api(serve.base, 'GET', `/api/v1/customers/${PARTNER}/events?limit=100`, token)).body
        .events as EventView[]
    ).reverse();

  beforeAll(async () => {
    serve = await startServe({ DATABASE_TIMEOUT: '30s' });
    env = { TPCS_API: serve.base, ADMIN_TOKEN: serve.adminToken };
    const partner = await api(serve.base, 'POST', '/api/v1/admin/partners', serve.adminToken, {
      customer_id: PARTNER,
    });
    expect(partner.status).toBe(201);
    token = partner.body.token as string;
    for (const ref of ['A1', 'A2', 'A3', 'B1', 'C1', 'C2', 'D1', 'D2', 'E1', 'E2', 'F1', 'F2', 'F3']) {
      const created = await api(
        serve.base,
        'POST',
        `/api/v1/customers/${PARTNER}/third-parties`,
        token,
        validThirdParty(ref),
      );
      expect(created.status).toBe(201);
    }
  });
  afterAll(() => {
    serve?.child.kill('SIGKILL');
  });

  it('sends a file in chunks of --batch-size, in file order: the last decision on a third party holds', async () => {
    const proxy = await recordingProxy(serve.base);
    try {
      const path = file(
        jsonl(approve('A1'), reject('A2'), '', approve('A2'), approve('A1'), reject('A3'), reject('A2')),
      );
      const run = await tpcs(['decisions', '--file', path, '--batch-size', '2', '--api', proxy.url], { env });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.stdout).toBe('Recorded 6 decisions: 5 changed, 1 unchanged\n');

      // three requests of at most two decisions, one after another, in file order
      expect(proxy.batches.map((b) => b.map((d) => `${d.client_customer_ref} ${d.status}`))).toEqual([
        ['A1 APPROVED', 'A2 REJECTED'],
        ['A2 APPROVED', 'A1 APPROVED'],
        ['A3 REJECTED', 'A2 REJECTED'],
      ]);
      expect(proxy.maxInFlight).toBe(1);
    } finally {
      await proxy.close();
    }

    // A2 was decided three times across requests: its status is the last line's, its events in file order
    expect(await status('A2')).toBe('REJECTED');
    expect([await status('A1'), await status('A3')]).toEqual(['APPROVED', 'REJECTED']);
    const a2 = (await events()).filter((e) => e.data.client_customer_ref === 'A2');
    expect(a2.map((e) => e.data.status)).toEqual(['REJECTED', 'APPROVED', 'REJECTED']);
    const times = a2.map((e) => Date.parse(e.event_timestamp));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(new Set(times).size).toBe(3);
  });

  it('lists each refused decision on stderr by line, records the others, and exits 1', async () => {
    const path = file(
      jsonl(
        approve('NOPE'),
        approve('B1'),
        '',
        { customer_id: PARTNER, client_customer_ref: 'B1', status: 'REJECTED' },
        reject('B1'),
      ),
    );
    const run = await tpcs(['decisions', '-f', path], { env });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('Recorded 2 of 4 decisions: 2 changed, 0 unchanged, 2 refused\n');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      `line 1: 404 not_found: No third party customer NOPE for customer ${PARTNER}`,
      expect.stringMatching(/^line 4: 400 validation_failed: \$\.reasons: \S/),
    ]);
    // the decisions after the refused ones were still recorded, in order
    expect(await status('B1')).toBe('REJECTED');
    const b1 = (await events()).filter((e) => e.data.client_customer_ref === 'B1');
    expect(b1.map((e) => e.data.status)).toEqual(['APPROVED', 'REJECTED']);
  });

  it('refuses a malformed line before sending anything (exit 2, naming the line)', async () => {
    const before = (await events()).length;
    const path = file(jsonl(approve('C1'), '', '{"customer_id": "x",', reject('C2'), 'not json'));
    const run = await tpcs(['decisions', '--file', path], { env });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const [first, ...problems] = run.stderr.trimEnd().split('\n');
    expect(first).toBe(
      `tpcs decisions: error: ${path}: expected JSON Lines, one decision a line; nothing was sent:`,
    );
    expect(problems).toEqual([
      expect.stringMatching(/^ {2}line 3 is not JSON: /),
      expect.stringMatching(/^ {2}line 5 is not JSON: /),
    ]);
    // a pretty-printed JSON array: line 1 is not JSON, and the way to convert it is said
    const array = await tpcs(['decisions', '--file', '-'], {
      env,
      input: JSON.stringify([approve('C1'), reject('C2')], null, 2),
    });
    expect(array.code).toBe(2);
    expect(array.stderr).toMatch(/^ {2}line 1 is not JSON: /m);
    expect(array.stderr).toContain(
      "stdin looks like one JSON document, not JSON Lines: convert an array with jq -c '.[]'",
    );
    // a JSON value that is not a decision object
    const scalar = await tpcs(['decisions'], { env, input: jsonl(approve('C1'), '[1]', '42') });
    expect(scalar.code).toBe(2);
    expect(scalar.stderr).toContain('line 2 is an array, not a decision object');
    expect(scalar.stderr).toContain('line 3 is a number, not a decision object');

    expect([await status('C1'), await status('C2')]).toEqual(['PENDING', 'PENDING']);
    expect((await events()).length).toBe(before);
  });

  it('reads stdin, without --file or with --file -', async () => {
    const piped = await tpcs(['decisions'], { env, input: jsonl(approve('D1'), reject('D2')) });
    expect({ code: piped.code, stdout: piped.stdout, stderr: piped.stderr }).toEqual({
      code: 0,
      stdout: 'Recorded 2 decisions: 2 changed, 0 unchanged\n',
      stderr: '',
    });
    expect([await status('D1'), await status('D2')]).toEqual(['APPROVED', 'REJECTED']);

    const dash = await tpcs(['decisions', '--file', '-'], {
      env,
      input: `\r\n${JSON.stringify(approve('D2'))}\r\n`,
    });
    expect([dash.code, dash.stdout]).toEqual([0, 'Recorded 1 decision: 1 changed, 0 unchanged\n']);
    expect(await status('D2')).toBe('APPROVED');

    const empty = await tpcs(['decisions'], { env, input: '\n\n' });
    expect([empty.code, empty.stdout, empty.stderr]).toEqual([
      0,
      'No decisions in stdin: nothing sent.\n',
      '',
    ]);
  });

  it('--json: one JSON line per decision, with its input line number, in file order', async () => {
    const input = jsonl(
      '',
      approve('E1'),
      approve('E1'),
      approve('GONE'),
      { customer_id: PARTNER, client_customer_ref: 'E2', status: 'REJECTED', reasons: [] },
      '',
      reject('E2'),
    );
    const run = await tpcs(['decisions', '--json', '--batch-size', '3'], { env, input });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    const results = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(results.map((r) => [r.line, r.status])).toEqual([
      [2, 200],
      [3, 200],
      [4, 404],
      [5, 400],
      [7, 200],
    ]);
    const [changed, unchanged, unknown, invalid, rejected] = results;
    expect(changed.third_party).toMatchObject({ client_customer_ref: 'E1', status: 'APPROVED' });
    expect(changed.event.data).toMatchObject({ client_customer_ref: 'E1', status: 'APPROVED' });
    expect(unchanged.event).toBeNull();
    expect(unknown.error.code).toBe('not_found');
    expect(invalid.error).toMatchObject({
      code: 'validation_failed',
      details: { problems: [{ path: '$.reasons', message: expect.any(String) }] },
    });
    expect(rejected.third_party.status).toBe('REJECTED');
    expect(rejected.event.event_id).toBe((await events()).at(-1)?.event_id);
    for (const result of results) expect(result).not.toHaveProperty('index');
  });

  it('stops at a failed request and says how many decisions were recorded before it', async () => {
    const proxy = await recordingProxy(serve.base, (n) => n === 2);
    try {
      const path = file(jsonl(approve('F1'), approve('F1'), reject('F2'), approve('F3'), reject('F3')));
      const run = await tpcs(['decisions', '--file', path, '--batch-size', '2', '--api', proxy.url], { env });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        'tpcs decisions: error: unavailable: Down for maintenance\n' +
          'Stopped at request 2 of 3 (lines 3–4): 2 decisions were recorded before it (lines 1–2: 1 changed, 1 unchanged); none from line 3 on was recorded.\n',
      );
      expect(proxy.batches).toHaveLength(2);
    } finally {
      await proxy.close();
    }
    expect([await status('F1'), await status('F2'), await status('F3')]).toEqual([
      'APPROVED',
      'PENDING',
      'PENDING',
    ]);

    // no service at all: the one decision may or may not have been recorded, and nothing else was sent
    const closed = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await tpcs(['decisions', '--api', closed], { env, input: jsonl(approve('F2')) });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      /^tpcs decisions: cannot reach the service at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*\nStopped at request 1 of 1 \(lines 1–1\): nothing was recorded before it; lines 1–1 may or may not have been recorded/,
    );
  });
});

/**
 * A proxy in front of the service that keeps each batch of decisions it passes on, and how many
 * requests were in flight at once; `fail(n)` answers the n-th batch 503 itself instead.
 */
async function recordingProxy(target: string, fail: (n: number) => boolean = () => false) {
  const batches: { client_customer_ref: string; status: string }[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer(async (req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      if (req.url === '/api/v1/admin/decisions') batches.push(JSON.parse(body.toString()).decisions);
      if (fail(batches.length)) {
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'unavailable', message: 'Down for maintenance' } }));
        return;
      }
      const answer = await fetch(`${target}${req.url}`, {
        method: req.method ?? 'GET',
        headers: {
          authorization: req.headers.authorization ?? '',
          'content-type': req.headers['content-type'] ?? 'application/json',
        },
        ...(body.length > 0 ? { body } : {}),
      });
      res
        .writeHead(answer.status, {
          'content-type': answer.headers.get('content-type') ?? 'application/json',
        })
        .end(Buffer.from(await answer.arrayBuffer()));
    } finally {
      inFlight--;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    batches,
    get maxInFlight() {
      return maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
