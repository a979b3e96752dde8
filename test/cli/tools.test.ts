/**
 * `tpcs trigger`, `verify`, `--help` and usage errors through the built CLI as real processes (run
 * `npm run build` first), against local servers. Exit codes: 0 ok, 1 failed/refused, 2 usage.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEvent } from '../../src/contract/index.js';
import { createVerifier, generateSecret, signWebhook } from '../../src/signing/index.js';
import { localServer, tpcs } from './processes.js';

const SECRET = generateSecret();

describe('tpcs --help and usage errors', () => {
  it('documents the commands and the exit codes', async () => {
    const run = await tpcs(['--help']);
    expect(run.code).toBe(0);
    for (const name of [
      'trigger',
      'verify',
      'conformance',
      'listen',
      'replay',
      'recover',
      'partners',
      'tokens',
    ]) {
      expect(run.stdout).toContain(name);
    }
    expect(run.stdout).toMatch(
      /Exit codes \(the same for every tpcs command\):\n\s+0 .*\n\s+1 .*\n(\s{4,}.*\n)*\s+2 /,
    );
    const help = await tpcs(['trigger', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('(env: WEBHOOK_SECRET)');
    expect(help.stdout).toContain('Examples:');
  });

  it('exits 2 on a missing option, an invalid value, an unknown command or option', async () => {
    const cases = [
      ['trigger', '--secret', SECRET],
      ['trigger', '--url', 'http://127.0.0.1:1/webhook', '--secret', 'not-a-secret'],
      ['trigger', '--url', 'ftp://x', '--secret', SECRET],
      ['trigger', '--url', 'http://127.0.0.1:1/webhook', '--secret', SECRET, '--status', 'PENDING'],
      ['trigger', '--url', 'http://127.0.0.1:1/webhook', '--secret', SECRET, '--reason', 'X:y'],
      ['verify', '--secret', SECRET, '--headers', 'only-headers.txt'],
      ['replay', '--webhook', 'w', '--delivery', 'd'],
      ['nope'],
      ['trigger', '--bogus'],
    ];
    const runs = await Promise.all(cases.map((args) => tpcs(args)));
    for (const [i, run] of runs.entries()) {
      expect({ args: cases[i], code: run.code }).toEqual({ args: cases[i], code: 2 });
      expect(run.stderr).toMatch(/error/);
    }
    // An invalid value from the environment is a usage error too, naming the variable.
    const env = await tpcs(['trigger', '--url', 'http://127.0.0.1:1/webhook'], {
      env: { WEBHOOK_SECRET: 'oops' },
    });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('WEBHOOK_SECRET');
  });
});

describe('tpcs trigger', () => {
  let server: Awaited<ReturnType<typeof localServer>>;
  let status = 200;
  beforeAll(async () => {
    server = await localServer(() => ({ status, body: '{"received":true}' }));
  });
  afterAll(() => server.close());

  it('sends one signed event built by the contract, prints the answer, exits 0 on 2xx and 1 otherwise', async () => {
    const run = await tpcs(
      [
        'trigger',
        '--url',
        `${server.url}/webhook`,
        '--status',
        'REJECTED',
        '--ref',
        'CUST_042',
        '--reason',
        'COMPLIANCE_CHECK_FAILED:Sanctions list match',
      ],
      { env: { WEBHOOK_SECRET: SECRET } },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/← 200 in \d+ ms\n\{"received":true\}/);
    // Piped: no progress or terminal escapes anywhere.
    expect(run.stderr).toBe('');
    const got = server.received.at(-1);
    expect(got?.headers['content-type']).toBe('application/json');
    expect(createVerifier([SECRET])(got?.headers ?? {}, got?.body ?? '')).toMatchObject({ ok: true });
    const event = JSON.parse(String(got?.body));
    expect(event.data).toEqual({
      customer_id: '0201001008132685',
      client_customer_ref: 'CUST_042',
      status: 'REJECTED',
      reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Sanctions list match' }],
    });
    expect(got?.headers['webhook-id']).toBe(event.event_id);

    status = 401;
    const refused = await tpcs(['trigger', '--url', server.url, '--secret', SECRET, '--json']);
    status = 200;
    expect(refused.code).toBe(1);
    const json = JSON.parse(refused.stdout);
    expect(json).toMatchObject({
      delivered: false,
      response: { status: 401 },
      event: { data: { status: 'APPROVED' } },
    });
    expect(json.request.body).toBe(String(server.received.at(-1)?.body));

    const unreachable = await tpcs(['trigger', '--url', 'http://127.0.0.1:1/webhook', '--secret', SECRET]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toContain('no answer');
  });
});

describe('tpcs verify', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-verify-'));
  const { event, json } = buildEvent({ customerId: 'C1', clientCustomerRef: 'REF_1', status: 'APPROVED' });
  const sentAt = Math.floor(Date.now() / 1000) - 3600;
  const headers = signWebhook({ id: event.event_id, timestamp: sentAt, body: json, secrets: [SECRET] });
  const headerLines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  const raw = (eol: string, body = json) =>
    [
      'POST /webhook HTTP/1.1',
      'host: partner.example',
      'content-type: application/json',
      ...headerLines,
      '',
      body,
    ].join(eol);
  const at = String(sentAt + 5);

  it('reads a raw request on stdin with CRLF or LF; an old capture needs --now', async () => {
    for (const eol of ['\r\n', '\n']) {
      const run = await tpcs(['verify', '--secret', SECRET, '--now', at], { input: raw(eol) });
      expect(run.stdout).toContain('signature: valid');
      expect(run.stdout).toContain('payload:   conforms');
      expect(run.code).toBe(0);
    }
    const old = await tpcs(['verify', '--secret', SECRET], { input: raw('\r\n') });
    expect(old.code).toBe(1);
    expect(old.stdout).toMatch(/signature: INVALID \(timestamp_too_old\).*--now/);
  });

  it('reads --headers and --body files and says why not, with paths', async () => {
    const bad = json.replace('"APPROVED"', '"PENDING"');
    writeFileSync(join(dir, 'headers.txt'), headerLines.join('\n'));
    writeFileSync(join(dir, 'headers.json'), JSON.stringify(headers));
    writeFileSync(join(dir, 'body.json'), json);
    writeFileSync(join(dir, 'bad.json'), bad);
    const good = await tpcs([
      'verify',
      '--secret',
      SECRET,
      '--now',
      at,
      '--headers',
      join(dir, 'headers.json'),
      '--body',
      join(dir, 'body.json'),
    ]);
    expect(good.code).toBe(0);
    const run = await tpcs([
      'verify',
      '--secret',
      SECRET,
      '--now',
      at,
      '--headers',
      join(dir, 'headers.txt'),
      '--body',
      join(dir, 'bad.json'),
      '--json',
    ]);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.signature).toMatchObject({ valid: false, code: 'no_valid_signature' });
    expect(result.payload.conforms).toBe(false);
    expect(result.payload.problems[0].path).toBe('$.data.status');
    // Right signature (over the bad bytes), wrong payload: still exit 1.
    const signedBad = signWebhook({ id: event.event_id, timestamp: sentAt, body: bad, secrets: [SECRET] });
    const text = await tpcs(['verify', '--secret', `${generateSecret()},${SECRET}`, '--now', at], {
      input: raw('\n', bad).replace(headers['webhook-signature'], signedBad['webhook-signature']),
    });
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('signature: valid');
    expect(text.stdout).toMatch(/payload: {3}does NOT conform \(1 problem\)\n {2}\$\.data\.status: /);
  });
});
