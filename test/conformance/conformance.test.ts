/**
 * `tpcs conformance` as a real process: against `tpcs receive` (every check passes, exit 0) and
 * against sloppy receivers written here, each with the failures it deserves (exit 1).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/contract/index.js';
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
    const run = await conformance(`http://127.0.0.1:${port}/webhook`);
    expect(run.stdout).toMatch(/^check\s+expect\s+got\s+result$/m);
    expect(run.stdout).not.toMatch(/FAIL|WARN/);
    expect(run.stdout).toMatch(/\n24 passed, 0 warnings, 0 failed of 24 checks\n$/);
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
