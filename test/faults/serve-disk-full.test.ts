/**
 * `tpcs serve` on a SQLite file whose disk fills up: a small tmpfs holds the database, and a ballast
 * file takes every byte left. Decisions are then answered 503 with Retry-After (not 500), `/readyz`
 * says not ready, and both recover once the ballast is deleted. Needs root (to mount the tmpfs) and
 * `npm run build`; skips with the reason otherwise.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.js';
import {
  ADMIN_TOKEN,
  type HttpClient,
  httpClient,
  type Outcome,
  readiness,
  type Serve,
  setUpPartner,
  startServe,
} from './support.js';

const skip =
  process.getuid?.() === 0 ? undefined : 'not root: mounting the small tmpfs that fills up needs root';
if (skip) console.warn(`test/faults/serve-disk-full.test.ts skipped: ${skip}`);

/** Writes zeros to `file` until the file system is full (ENOSPC). */
function fillUp(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(skip !== undefined)('tpcs serve on SQLite when the disk is full', () => {
  let dir = '';
  let mounted = false;
  let serve: Serve | undefined;
  let client: HttpClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tpcs-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir]);
    mounted = true;
    mkdirSync(join(dir, 'data'));
    serve = await startServe({ DATABASE_URL: `sqlite:${join(dir, 'data', 'tpcs.db')}` });
    client = httpClient(10_000);
  });
  afterAll(async () => {
    await serve?.stop();
    await client?.close();
    if (mounted) execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After and is not ready while the disk is full, and recovers when space is freed', async () => {
    const base = serve?.base ?? '';
    const partner = await setUpPartner(client, base, { count: 50 });
    const counts = { ok: 0, unavailable: 0, other: 0 };
    const unexpected: Outcome[] = [];
    let round = 0;
    /** One decision on each third party in turn; returns its status (0 without an answer). */
    const decide = async (): Promise<number> => {
      const ref = partner.refs[round % partner.refs.length] ?? '';
      const status = Math.floor(round / partner.refs.length) % 2 === 0 ? 'APPROVED' : 'REJECTED';
      round++;
      const outcome = await client.call(
        'POST',
        `${base}/api/v1/admin/customers/${partner.customerId}/third-parties/${ref}/decision`,
        ADMIN_TOKEN,
        status === 'APPROVED'
          ? { status }
          : { status, reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' }] },
      );
      if (outcome.kind !== 'answer') return 0;
      if (outcome.status === 200) counts.ok++;
      else if (outcome.status === 503 && outcome.headers['retry-after'] !== undefined) counts.unavailable++;
      else {
        counts.other++;
        unexpected.push(outcome);
      }
      return outcome.status;
    };
    expect(await decide()).toBe(200);
    expect(await readiness(client, base)).toBe(200);

    const ballast = join(dir, 'ballast');
    fillUp(ballast);
    // The WAL may still have room for a few commits; the first one that needs more is refused.
    await waitFor(async () => (await decide()) === 503, { timeout: 30_000, what: 'a decision answered 503' });
    await waitFor(async () => (await readiness(client, base)) === 503, { what: '/readyz answering 503' });
    // and it stays so while the disk is full
    for (let i = 0; i < 10; i++) expect(await decide()).toBe(503);
    expect(await readiness(client, base)).toBe(503);
    // the dashboard too: signing in writes a session, and its page says to retry rather than 500
    const login = await fetch(`${base}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: ADMIN_TOKEN }).toString(),
      redirect: 'manual',
    });
    expect(login.status).toBe(503);
    expect(login.headers.get('retry-after')).not.toBeNull();
    expect(await login.text()).toContain('not available right now');
    const whileFull = { ...counts };

    rmSync(ballast);
    await waitFor(async () => (await decide()) === 200, { what: 'a decision answered 200 again' });
    await waitFor(async () => (await readiness(client, base)) === 200, {
      what: '/readyz answering 200 again',
    });
    console.log(
      `SQLite disk full, decisions until space was freed: ${JSON.stringify(whileFull)}; after: ${JSON.stringify(counts)}`,
    );
    expect(unexpected).toEqual([]);
  });
});
