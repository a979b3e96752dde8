/**
 * `tpcs receive` under faults and abuse, as real processes (the built CLI): its disk filling up, a
 * kill -9 in the middle of a load, and a start without a signing secret. Each prints what it measured
 * (docs/reliability.md quotes the figures).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { answer, SECRET, signedRequest, tempDir } from '../receiver/helpers.js';
import { buildIsFresh } from '../support/build.js';
import { waitFor } from '../support/wait-for.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Receive {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Log lines so far (stdout as a pipe), or read from `logFile`. */
  logs(): Record<string, unknown>[];
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

beforeAll(() => {
  // What `npm ci` builds (its prepare script); `npm test` has built it already.
  if (!buildIsFresh()) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
}, 180_000);

/** Runs `tpcs receive` with `env` added to (or, for `undefined`, removed from) this process's. */
function spawnReceive(args: string[], env: Record<string, string | undefined>, stdout: 'pipe' | number) {
  const merged: NodeJS.ProcessEnv = {
    ...process.env,
    WEBHOOK_SECRET: undefined,
    INSECURE_SKIP_VERIFY: undefined,
  };
  for (const [key, value] of Object.entries(env)) merged[key] = value;
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  const child = spawn(process.execPath, ['bin/tpcs.js', 'receive', ...args], {
    cwd: ROOT,
    env: merged,
    stdio: ['ignore', stdout, 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // 'close', not 'exit': the last output may still be in the pipes when the process exits.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, stderr: () => stderr };
}

/** Starts `tpcs receive` on a free port; logs to a pipe, or to `logFile` (as `> receiver.log` does). */
async function startReceive(
  args: string[],
  options: { env?: Record<string, string | undefined>; logFile?: string } = {},
): Promise<Receive> {
  const fd = options.logFile === undefined ? undefined : fs.openSync(options.logFile, 'a');
  const started = spawnReceive(['--port', '0', ...args], options.env ?? {}, fd ?? 'pipe');
  if (fd !== undefined) fs.closeSync(fd);
  const piped: Record<string, unknown>[] = [];
  if (started.child.stdout) {
    createInterface({ input: started.child.stdout }).on('line', (line) => {
      piped.push(JSON.parse(line) as Record<string, unknown>);
    });
  }
  const logs = () => (options.logFile === undefined ? piped : readLogFile(options.logFile));
  let exitedEarly = false;
  void started.exited.then(() => {
    exitedEarly = true;
  });
  const listening = await waitFor(() => exitedEarly || logs().find((l) => l.msg === 'listening'), {
    timeout: 30_000,
    what: () => `a "listening" line; stderr: ${started.stderr()}`,
  });
  if (listening === true) throw new Error(`tpcs receive exited at start: ${started.stderr()}`);
  return {
    child: started.child,
    url: `http://127.0.0.1:${String(listening.port)}`,
    exited: started.exited,
    logs,
  };
}

/** The complete JSON lines of a log file (the last one may be mid-write). */
function readLogFile(file: string): Record<string, unknown>[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.pop();
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Appends to `file` until its file system is full: not a byte is left for anyone else. */
function fillUp(file: string): void {
  const fd = fs.openSync(file, 'a');
  try {
    for (const size of [65_536, 4096, 512, 1]) {
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(size));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

type Event = ReturnType<typeof signedRequest>;

/**
 * A bound on each answer, for a process that hangs instead of answering (one did, on a full disk):
 * generous, never a speed check.
 */
const ANSWER_WITHIN = { headersTimeout: 10_000, bodyTimeout: 10_000 };

/** One POST /webhook: its status, Retry-After and outcome, or status 0 when no answer came (a dead or hung process). */
async function post(url: string, event: Event) {
  try {
    const response = await request(`${url}/webhook`, {
      method: 'POST',
      headers: event.headers,
      body: event.body,
      ...ANSWER_WITHIN,
    });
    const text = await response.body.text();
    const body = answer(text);
    return {
      status: response.statusCode,
      retryAfter: response.headers['retry-after'],
      outcome: body.outcome,
      code: body.error?.code,
    };
  } catch (error) {
    return { status: 0, error: (error as Error).message };
  }
}

async function get(url: string) {
  const response = await request(url, ANSWER_WITHIN);
  return {
    status: response.statusCode,
    headers: response.headers,
    body: (await response.body.json()) as Record<string, unknown>,
  };
}

/** The event ids in an inbox file, each with how many rows it has. */
function inboxRows(file: string): Map<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT event_id, count(*) AS n FROM inbox_events GROUP BY event_id').all() as {
      event_id: string;
      n: number;
    }[];
    return new Map(rows.map((r) => [r.event_id, r.n]));
  } finally {
    db.close();
  }
}

/** Event `i` of a run: 50 third parties, each one's events newest last. */
function loadEvent(run: string, i: number): Event {
  return signedRequest({
    customerId: `C_${run}`,
    ref: `REF_${i % 50}`,
    status: i % 2 === 0 ? 'REJECTED' : 'APPROVED',
    at: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString().replace('.000Z', 'Z'),
  });
}

// A full disk: a tmpfs of 2 MiB, nearly filled by a file of ours, holding the inbox and the log.
const notRoot = process.getuid?.() === 0 ? undefined : 'not root: mounting a small tmpfs needs root';
if (notRoot) console.log(`test/faults/receive.test.ts: disk-full test skipped (${notRoot})`);

describe.skipIf(notRoot !== undefined)('tpcs receive on a full disk', () => {
  let disk: string;
  let mountFailure: string | undefined;

  beforeAll(() => {
    disk = fs.mkdtempSync(path.join(os.tmpdir(), 'tpcs-full-disk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk], { stdio: 'pipe' });
    } catch (error) {
      mountFailure = `mount -t tmpfs failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
      console.log(`test/faults/receive.test.ts: disk-full test skipped (${mountFailure})`);
    }
  });

  afterAll(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null)
        await new Promise((r) => child.once('close', r));
    }
    if (mountFailure === undefined) {
      try {
        execFileSync('umount', [disk], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', disk], { stdio: 'pipe' }); // still busy: detach it now, free it later
      }
    }
    fs.rmSync(disk, { recursive: true, force: true });
  });

  it('answers 503 while it cannot write, stays up, and takes events again once space returns; nothing is lost', async (ctx) => {
    if (mountFailure) ctx.skip();
    const db = path.join(disk, 'receiver.db');
    const logFile = path.join(disk, 'receiver.log');
    const r = await startReceive(['--db', db, '--secret', SECRET], { logFile });

    // Our file takes all but 256 KiB: a few dozen events fit, then SQLite's writes fail with SQLITE_FULL.
    const filler = path.join(disk, 'filler');
    const { bavail, bsize } = fs.statfsSync(disk);
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 256 * 1024)));

    const answers = new Map<Event, Awaited<ReturnType<typeof post>>>();
    let n = 0;
    // Batches of 16 at once (group commits), until a whole batch is refused, twice over.
    let refusedBatches = 0;
    for (let batch = 0; refusedBatches < 2; batch++) {
      expect(batch, 'the disk never filled').toBeLessThan(300);
      const events = Array.from({ length: 16 }, () => loadEvent('FULL', n++));
      const results = await Promise.all(events.map((e) => post(r.url, e)));
      for (const [i, e] of events.entries()) answers.set(e, results[i] as Awaited<ReturnType<typeof post>>);
      if (results.every((a) => a.status === 503)) refusedBatches++;
      if (results.some((a) => a.status !== 200 && a.status !== 503)) break; // a crash: the assertions say so
    }
    const all = [...answers.values()];
    // Only 200 or 503: never another 5xx, never a dropped connection.
    expect(new Set(all.map((a) => a.status))).toEqual(new Set([200, 503]));
    expect(
      all
        .filter((a) => a.status === 503)
        .every((a) => a.retryAfter === '10' && a.code === 'inbox_unavailable'),
    ).toBe(true);

    type Failing = { writer: string; error: string; failed_writes: number }[];
    const failing = async () => ((await get(`${r.url}/healthz`)).body.failing ?? []) as Failing;
    expect(await failing()).toContainEqual(
      expect.objectContaining({ writer: 'inbox', error: expect.stringMatching(/^SQLITE_FULL/) }),
    );
    // Statuses held back when the disk filled are retried every second, from a timer that must not end
    // the process (it did: an uncaught SQLITE_FULL). When that is under way, let it fail a few times.
    if ((await failing()).some((f) => f.writer === 'status projection')) {
      await waitFor(
        async () =>
          ((await failing()).find((f) => f.writer === 'status projection')?.failed_writes ?? 0) >= 3,
        { what: 'the status projection retried on the full disk' },
      );
    }
    // Forged requests meanwhile: each is answered 401 and logged, into a log file that cannot grow
    // either (what SQLite left free is taken too). A failed log write must not end the process (it
    // did: an unhandled 'error' event).
    const rest = path.join(disk, 'filler-rest');
    fillUp(rest);
    const forger = ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'];
    const forged = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        post(r.url, signedRequest({ customerId: 'C_FULL', ref: `X_${i}` }, forger)),
      ),
    );
    expect(new Set(forged.map((a) => a.status))).toEqual(new Set([401]));
    // /readyz tries a write of its own each time. It is 503 while that fails; SQLite may still find
    // room for so small a write in its WAL (reused from the start after a checkpoint), and then the
    // receiver is rightly ready: an event is taken too, or refused 503 once the WAL is out of room.
    const ready = await get(`${r.url}/readyz`);
    if (ready.status === 200) {
      const e = loadEvent('FULL', n++);
      const a = await post(r.url, e);
      answers.set(e, a);
      expect([200, 503]).toContain(a.status);
    } else {
      expect([ready.status, ready.headers['retry-after']]).toEqual([503, '10']);
    }
    // A status read while full: the status or 503, never a 500.
    expect([200, 404, 503]).toContain((await get(`${r.url}/statuses/C_FULL/REF_1`)).status);
    expect([r.child.exitCode, r.child.signalCode]).toEqual([null, null]);

    // Space returns.
    fs.rmSync(filler);
    fs.rmSync(rest);
    await waitFor(async () => (await get(`${r.url}/readyz`)).status === 200, { what: 'ready again' });
    const refused = [...answers].filter(([, a]) => a.status === 503).map(([e]) => e);
    const resent = await Promise.all(refused.map((e) => post(r.url, e)));
    // Nothing refused had been recorded: each is new now, never a duplicate. Resent all at once, an
    // older event of a third party may land after a newer one of the same: recorded as stale.
    expect(resent.map((a) => a.status)).toEqual(refused.map(() => 200));
    expect(resent.filter((a) => a.outcome !== 'recorded' && a.outcome !== 'stale')).toEqual([]);
    await waitFor(async () => (await get(`${r.url}/healthz`)).body.status === 'ok', {
      what: 'healthy again',
    });

    r.child.kill('SIGTERM');
    expect(await r.exited).toEqual({ code: 0, signal: null });
    const rows = inboxRows(db);
    const accepted = [...answers].filter(([, a]) => a.status === 200).map(([e]) => e.eventId);
    expect(accepted.filter((id) => rows.get(id) !== 1)).toEqual([]);
    expect(rows.size).toBe(answers.size);
    // The log shared the full disk: its lines were held, written once there was room. Each writer's
    // failing is said once per episode, and each episode's end is said too.
    const messages = r.logs().map((l) => String(l.msg));
    const said = (text: string) => messages.filter((m) => m.startsWith(text)).length;
    expect(said('inbox cannot write')).toBeGreaterThanOrEqual(1);
    expect(said('inbox cannot write')).toBeLessThan(refused.length);
    expect(said('inbox writes again')).toBe(said('inbox cannot write'));
    expect(said('status projection writes again')).toBe(said('status projection cannot write'));
    expect(said('rejected a request: signature')).toBe(forged.length);
    expect(messages.at(-1)).toBe('stopped');
    const statuses = new Database(db, { readonly: true });
    expect((statuses.prepare('SELECT count(*) AS n FROM customer_statuses').get() as { n: number }).n).toBe(
      50,
    );
    statuses.close();
    console.log(
      `disk full: ${answers.size} events sent, ${accepted.length} accepted (200) before the disk filled, ` +
        `${refused.length} answered 503 (Retry-After: 10), all ${refused.length} accepted when resent after space returned; ` +
        `${rows.size} in the inbox; failure episodes logged: inbox ${said('inbox cannot write')}, ` +
        `status projection ${said('status projection cannot write')}`,
    );
  });
});

describe('tpcs receive killed with SIGKILL under load', () => {
  it('keeps every event it answered 2xx; resent ones are recorded once', async () => {
    const db = path.join(tempDir(), 'receiver.db');
    const events = Array.from({ length: 2000 }, (_, i) => loadEvent('KILL', i));
    const first = await startReceive(['--db', db, '--secret', SECRET]);

    const answers: Awaited<ReturnType<typeof post>>[] = [];
    let accepted = 0;
    let next = 0;
    // 64 requests in flight; the process is killed once a third of the events have been accepted.
    const sender = async () => {
      while (next < events.length) {
        const i = next++;
        const a = await post(first.url, events[i] as Event);
        answers[i] = a;
        if (a.status === 200 && ++accepted === Math.floor(events.length / 3)) first.child.kill('SIGKILL');
      }
    };
    await Promise.all(Array.from({ length: 64 }, sender));
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // No answer but 200, 503 or none (the connection cut by the kill).
    expect(answers.every((a) => [0, 200, 503].includes(a.status))).toBe(true);

    const second = await startReceive(['--db', db, '--secret', SECRET]);
    const again = events.map((e, i) => ({ e, i })).filter(({ i }) => answers[i]?.status !== 200);
    const resent = await Promise.all(again.map(({ e }) => post(second.url, e)));
    expect(resent.every((a) => a.status === 200)).toBe(true);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    const rows = inboxRows(db);
    const acceptedIds = events.filter((_, i) => answers[i]?.status === 200).map((e) => e.eventId);
    expect(acceptedIds.filter((id) => rows.get(id) !== 1)).toEqual([]);
    // Every event is in the inbox once, and none was answered as new twice (`recorded`, or `stale` when
    // a newer one for its third party came first): a resent event is new if the kill came before its
    // commit, `duplicate` if after it (only the answer was lost).
    expect(rows.size).toBe(events.length);
    expect([...rows.values()].every((n) => n === 1)).toBe(true);
    const newTimes = new Map<string, number>();
    const outcomes = [
      ...events.map((e, i) => ({ e, a: answers[i] })),
      ...again.map(({ e }, k) => ({ e, a: resent[k] })),
    ];
    for (const { e, a } of outcomes) {
      if (a?.outcome === 'recorded' || a?.outcome === 'stale') {
        newTimes.set(e.eventId, (newTimes.get(e.eventId) ?? 0) + 1);
      }
    }
    expect([...newTimes.values()].filter((n) => n > 1)).toEqual([]);
    const duplicates = resent.filter((a) => a.outcome === 'duplicate').length;
    expect(newTimes.size + duplicates).toBe(events.length);
    console.log(
      `kill -9 under load: sent ${events.length}, accepted ${acceptedIds.length} before the kill, ` +
        `503 ${answers.filter((a) => a.status === 503).length}, unanswered ${answers.filter((a) => a.status === 0).length}; ` +
        `resent ${again.length}: ${resent.length - duplicates} new, ${duplicates} duplicates ` +
        '(recorded before the kill, answer lost); lost 0, recorded twice 0',
    );
  }, 120_000);
});

describe('tpcs receive without a signing secret', () => {
  /** Runs `tpcs receive` to its exit; it must not get as far as listening. */
  async function refused(args: string[], env: Record<string, string | undefined>) {
    const dbFile = path.join(tempDir(), 'never.db');
    const run = spawnReceive(['--port', '0', '--db', dbFile, ...args], env, 'pipe');
    let listened = false;
    // Started after all (forged events welcome): stop it, and let the assertion say so.
    run.child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('"msg":"listening"')) {
        listened = true;
        run.child.kill('SIGKILL');
      }
    });
    const { code } = await run.exited;
    return { code: listened ? 'listening' : code, stderr: run.stderr(), created: fs.existsSync(dbFile) };
  }

  it.each([
    ['--secret ""', ['--secret', ''], {}],
    ['no secret at all', [], {}],
    ['WEBHOOK_SECRET= (empty)', [], { WEBHOOK_SECRET: '' }],
    ['INSECURE_SKIP_VERIFY=false', [], { INSECURE_SKIP_VERIFY: 'false' }],
  ])('refuses to start: %s', async (_name, args, env) => {
    expect(await refused(args, env)).toEqual({
      code: 2,
      stderr: expect.stringMatching(
        /^tpcs receive: error: missing_secret: no signing secret: give --secret whsec_… or WEBHOOK_SECRET .*--insecure-skip-verify\n$/,
      ),
      created: false,
    });
  });

  it('refuses a list with an empty secret in it, and a secret together with --insecure-skip-verify', async () => {
    expect(await refused([], { WEBHOOK_SECRET: `${SECRET},` })).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/WEBHOOK_SECRET=.* is invalid .*expected one or more whsec_… secrets/),
    });
    expect(await refused(['--secret', SECRET, '--insecure-skip-verify'], {})).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^tpcs receive: error: conflicting_options: /),
    });
  });

  it('with --insecure-skip-verify it starts, says verification is off on its start line, and takes unsigned events', async () => {
    for (const how of [
      { args: ['--insecure-skip-verify'], env: {} },
      { args: [], env: { INSECURE_SKIP_VERIFY: 'true' } },
    ]) {
      const r = await startReceive(['--db', path.join(tempDir(), 'open.db'), ...how.args], { env: how.env });
      expect(r.logs().find((l) => l.msg === 'listening')).toMatchObject({
        level: 40,
        signature_verification: false,
        insecure_skip_verify: true,
        warning: expect.stringContaining('signature verification is OFF'),
      });
      const unsigned = signedRequest();
      const response = await request(`${r.url}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: unsigned.body,
      });
      expect([response.statusCode, answer(await response.body.text()).outcome]).toEqual([200, 'recorded']);
      r.child.kill('SIGTERM');
      expect((await r.exited).code).toBe(0);
    }
  });
});

describe('tpcs receive against abuse', () => {
  it('answers 400 to an event dated years ahead and 401 to a forged one; neither is recorded', async () => {
    const db = path.join(tempDir(), 'receiver.db');
    const r = await startReceive(['--db', db, '--secret', SECRET]);
    const future = signedRequest({ customerId: 'C_ABUSE', ref: 'AHEAD', at: '2031-06-01T00:00:00Z' });
    const ahead = await request(`${r.url}/webhook`, {
      method: 'POST',
      headers: future.headers,
      body: future.body,
    });
    expect(ahead.statusCode).toBe(400);
    expect(answer(await ahead.body.text()).error?.details).toMatchObject({
      problems: [{ path: '$.event_timestamp', message: expect.stringContaining('ahead') }],
    });
    // Signed with another secret: anyone can make a well-formed event, not its signature.
    const forged = signedRequest({ customerId: 'C_ABUSE', ref: 'FORGED' }, [
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    ]);
    expect((await post(r.url, forged)).status).toBe(401);
    expect((await get(`${r.url}/statuses/C_ABUSE/AHEAD`)).status).toBe(404);
    r.child.kill('SIGTERM');
    await r.exited;
    expect(inboxRows(db).size).toBe(0);
  });
});
