import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait-for.js';
import { answer, OTHER_SECRET, SECRET, signedRequest, tempDir } from './helpers.js';

// `tpcs receive` as a real process (built by `npm run build`), on a free port, real signed requests.
interface Running {
  child: ChildProcess;
  url: string;
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
}

const running: Running[] = [];
afterEach(() => {
  for (const r of running.splice(0)) r.child.kill('SIGKILL');
});

beforeAll(() => {
  if (!fs.existsSync('dist/receiver/service/server.js')) {
    throw new Error('dist/ is missing the receiver: run `npm run build` before this test');
  }
});

async function startReceive(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, ['bin/tpcs.js', 'receive', '--port', '0', ...args], {
    env: { ...process.env, WEBHOOK_SECRET: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  // 'close', not 'exit': the last log lines may still be in the pipe when the process exits.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "listening" line; logs: ${JSON.stringify(logs)}`)),
      15_000,
    );
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === 'listening') {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${String(entry.port)}`);
      }
    });
    void exited.then((code) => reject(new Error(`exited with ${code}`)));
  });
  const r = { child, url, logs, exited };
  running.push(r);
  return r;
}

async function send(url: string, q: ReturnType<typeof signedRequest>) {
  const response = await request(`${url}/webhook`, { method: 'POST', headers: q.headers, body: q.body });
  return { status: response.statusCode, body: answer(await response.body.text()) };
}

describe('tpcs receive (process)', () => {
  it('receives signed events with rotation, serves statuses, logs a summary, stops on SIGTERM, keeps them', async () => {
    const db = path.join(tempDir(), 'receiver.db');
    const r = await startReceive(['--db', db, '--secret', SECRET, '--secret', OTHER_SECRET]);
    const first = signedRequest({ customerId: 'C1', ref: 'REF_1', status: 'REJECTED' }, [SECRET]);
    expect(await send(r.url, first)).toMatchObject({ status: 200, body: { outcome: 'recorded' } });
    expect(await send(r.url, first)).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    const rotated = signedRequest({ customerId: 'C1', ref: 'REF_2', status: 'APPROVED' }, [OTHER_SECRET]);
    expect((await send(r.url, rotated)).status).toBe(200);
    const unsigned = { ...first, headers: { 'content-type': 'application/json' } };
    expect((await send(r.url, unsigned)).status).toBe(401);

    const status = await request(`${r.url}/statuses/C1/REF_1`);
    expect(status.statusCode).toBe(200);
    expect(await status.body.json()).toMatchObject({ status: 'REJECTED', event_id: first.eventId });
    const list = await request(`${r.url}/statuses?customer_id=C1`);
    expect(((await list.body.json()) as { statuses: unknown[] }).statuses).toHaveLength(2);
    expect((await request(`${r.url}/healthz`)).statusCode).toBe(200);

    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(r.logs.at(-1)?.msg).toBe('stopped');
    // At info, no line per event: a summary of what was taken (every 10 s, and at shutdown).
    expect(r.logs.filter((l) => l.msg === 'event received')).toEqual([]);
    const summaries = r.logs.filter((l) => l.msg === 'requests since the last summary');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ recorded: 2, duplicate: 1, stale: 0, rejected: { 401: 1 } });

    const again = await startReceive(['--db', db, '--secret', SECRET]);
    const kept = await request(`${again.url}/statuses/C1/REF_2`);
    expect(await kept.body.json()).toMatchObject({ status: 'APPROVED', event_id: rotated.eventId });
  });

  it('on a wildcard host, announces a URL one can open (localhost), not 0.0.0.0', async () => {
    const db = path.join(tempDir(), 'receiver.db');
    const r = await startReceive(['--db', db, '--secret', SECRET, '--host', '0.0.0.0']);
    const url = String(r.logs.find((l) => l.msg === 'listening')?.url);
    expect(url).toMatch(/^http:\/\/localhost:\d+\/webhook$/);
    const q = signedRequest({ customerId: 'C1', ref: 'REF_1', status: 'APPROVED' }, [SECRET]);
    const response = await request(url.replace('localhost', '127.0.0.1'), {
      method: 'POST',
      headers: q.headers,
      body: q.body,
    });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
  });

  it('logs one line per event with --log-level debug, and nothing but errors with error', async () => {
    const dir = tempDir();
    const debug = await startReceive([
      '--db',
      path.join(dir, 'a.db'),
      '--secret',
      SECRET,
      '--log-level',
      'debug',
    ]);
    const event = signedRequest({ customerId: 'C1', ref: 'REF_1' }, [SECRET]);
    expect((await send(debug.url, event)).status).toBe(200);
    expect((await send(debug.url, event)).status).toBe(200);
    // Logs are buffered (4 KiB or 200 ms): wait for the lines rather than racing them.
    await waitFor(() => debug.logs.filter((l) => l.msg === 'event received').length >= 2, {
      what: "two 'event received' log lines",
    });
    expect(
      debug.logs.filter((l) => l.msg === 'event received').map((l) => [l.event_id, l.outcome, l.level]),
    ).toEqual([
      [event.eventId, 'recorded', 20],
      [event.eventId, 'duplicate', 20],
    ]);

    const quiet = await startReceive(['--db', path.join(dir, 'b.db'), '--secret', SECRET], {
      LOG_LEVEL: 'error',
    });
    expect((await send(quiet.url, signedRequest({}, [SECRET]))).status).toBe(200);
    quiet.child.kill('SIGTERM');
    expect(await quiet.exited).toBe(0);
    // Only the "listening" line, which the caller waits for, is written whatever the level.
    expect(quiet.logs.map((l) => l.msg)).toEqual(['listening']);
  });

  it('SIGKILL right after the 200s loses nothing: every event and every status is there after a restart', async () => {
    const db = path.join(tempDir(), 'receiver.db');
    const r = await startReceive(['--db', db, '--secret', SECRET]);
    // 40 third parties, 5 events each, newest last; sent concurrently so they share group commits.
    const events = Array.from({ length: 200 }, (_, i) =>
      signedRequest(
        {
          customerId: 'C_KILL',
          ref: `REF_${i % 40}`,
          status: i % 2 === 0 ? 'REJECTED' : 'APPROVED',
          at: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString().replace('.000Z', 'Z'),
        },
        [SECRET],
      ),
    );
    const answers = await Promise.all(events.map((e) => send(r.url, e)));
    expect(answers.every((a) => a.status === 200 && a.body.outcome === 'recorded')).toBe(true);
    // No graceful shutdown: statuses still held back for their batch write die with the process.
    r.child.kill('SIGKILL');
    await r.exited;

    const again = await startReceive(['--db', db, '--secret', SECRET]);
    const list = await request(`${again.url}/statuses?customer_id=C_KILL&limit=1000`);
    const statuses = (
      (await list.body.json()) as { statuses: { client_customer_ref: string; event_id: string }[] }
    ).statuses;
    const newest = new Map(events.map((e, i) => [`REF_${i % 40}`, e.eventId]));
    expect(new Map(statuses.map((s) => [s.client_customer_ref, s.event_id]))).toEqual(newest);
    // And each event once more is a duplicate: all 200 are in the inbox.
    const replies = await Promise.all(events.map((e) => send(again.url, e)));
    expect(replies.every((a) => a.status === 200 && a.body.outcome === 'duplicate')).toBe(true);
  });

  it('takes secrets from WEBHOOK_SECRET, and warns loudly when told to check none', async () => {
    const dir = tempDir();
    const fromEnv = await startReceive(['--db', path.join(dir, 'a.db')], {
      WEBHOOK_SECRET: `${OTHER_SECRET},${SECRET}`,
    });
    expect(fromEnv.logs.find((l) => l.msg === 'listening')).toMatchObject({
      signature_verification: true,
      secrets: 2,
    });
    expect((await send(fromEnv.url, signedRequest())).status).toBe(200);

    const open = await startReceive(['--db', path.join(dir, 'b.db'), '--insecure-skip-verify']);
    await waitFor(() => open.logs.some((l) => l.level === 40), { what: 'a warning logged' });
    expect(open.logs.some((l) => l.level === 40 && String(l.msg).includes('NOT verified'))).toBe(true);
    const { body, eventId } = signedRequest();
    const response = await request(`${open.url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect([response.statusCode, ((await response.body.json()) as { event_id: string }).event_id]).toEqual([
      200,
      eventId,
    ]);
  });

  it('refuses to start with a malformed secret, as a usage error naming the flag', async () => {
    const child = spawn(
      process.execPath,
      ['bin/tpcs.js', 'receive', '--port', '0', '--secret', 'nope', '--db', path.join(tempDir(), 'x.db')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/--secret .* is invalid.*whsec_/);
  });

  it('reads settings flag first, then environment, then default', async () => {
    const dbFromEnv = path.join(tempDir(), 'env.db');
    const help = spawn(process.execPath, ['bin/tpcs.js', 'receive', '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    help.stdout.on('data', (c: Buffer) => {
      text += c.toString();
    });
    await new Promise((resolve) => help.on('exit', resolve));
    expect(text.replace(/\s+/g, ' ')).toContain('(default: 3000, env: RECEIVER_PORT)');
    // RECEIVER_MAX_BODY_BYTES from the environment is refused like the flag would be
    const bad = spawn(process.execPath, ['bin/tpcs.js', 'receive', '--port', '0', '--db', dbFromEnv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RECEIVER_MAX_BODY_BYTES: 'lots' },
    });
    let err = '';
    bad.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    expect(await new Promise((resolve) => bad.on('exit', resolve))).toBe(2);
    expect(err).toContain('RECEIVER_MAX_BODY_BYTES');
  });
});
