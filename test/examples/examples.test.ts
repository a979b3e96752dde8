import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startExpressReceiver } from '../../examples/express-receiver.js';
import { startFastifyReceiver } from '../../examples/fastify-receiver.js';
import { startFetchReceiver } from '../../examples/fetch-receiver.js';
import type { Receiver } from '../../src/receiver/index.js';
import { REASONS, SECRET, signedRequest, tempDir } from '../receiver/helpers.js';
import { freePort } from '../support/net.js';
import { waitFor } from '../support/wait-for.js';

type Started = { url: string; receiver: Receiver; close: () => Promise<void> };
type OnStatus = (ref: string, status: 'APPROVED' | 'REJECTED', reasonCodes: string[]) => void;

const portOf = (address: AddressInfo | string | null) => (address as AddressInfo).port;
const closeServer = (server: { close: (cb: () => void) => unknown }) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
  });

// Each example started the way its test harness would (port 0, a temp inbox file).
const EXAMPLES: [string, (inbox: string, onStatus: OnStatus) => Promise<Started>][] = [
  [
    'express',
    async (inbox, onStatus) => {
      const { server, receiver } = startExpressReceiver(SECRET, 0, inbox, onStatus);
      await once(server, 'listening');
      return {
        url: `http://127.0.0.1:${portOf(server.address())}/webhook`,
        receiver,
        close: async () => {
          server.closeAllConnections();
          await closeServer(server);
          await receiver.close();
        },
      };
    },
  ],
  [
    'fastify',
    async (inbox, onStatus) => {
      const { app, receiver } = await startFastifyReceiver(SECRET, 0, inbox, onStatus);
      return {
        url: `http://127.0.0.1:${portOf(app.server.address())}/webhook`,
        receiver,
        close: () => app.close(),
      };
    },
  ],
  [
    'fetch',
    async (inbox, onStatus) => {
      const { server, receiver } = startFetchReceiver(SECRET, 0, inbox, onStatus);
      await once(server, 'listening');
      return {
        url: `http://127.0.0.1:${portOf(server.address())}/webhook`,
        receiver,
        close: async () => {
          await closeServer(server);
          await receiver.close();
        },
      };
    },
  ],
];

const cleanups: (() => Promise<void>)[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

async function post(url: string, q: ReturnType<typeof signedRequest>) {
  const response = await request(url, { method: 'POST', headers: q.headers, body: q.body });
  return { status: response.statusCode, body: (await response.body.json()) as { outcome: string } };
}

for (const [name, start] of EXAMPLES) {
  describe(`examples/${name}-receiver.ts`, () => {
    it('answers a real signed event, hands the typed event to the handler, and a duplicate once', async () => {
      const onStatus = vi.fn<OnStatus>();
      const inbox = path.join(tempDir(), 'inbox.db');
      const { url, receiver, close } = await start(inbox, onStatus);
      cleanups.push(close);

      const rejected = signedRequest({ status: 'REJECTED', ref: 'BUYER_1' });
      expect(await post(url, rejected)).toEqual({
        status: 200,
        body: expect.objectContaining({ outcome: 'recorded' }),
      });
      expect(await post(url, rejected)).toEqual({
        status: 200,
        body: expect.objectContaining({ outcome: 'duplicate' }),
      });
      const approved = signedRequest({ status: 'APPROVED', ref: 'BUYER_2' });
      expect((await post(url, approved)).status).toBe(200);
      const unsigned = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: approved.body,
      });
      expect(unsigned.statusCode).toBe(401);
      await unsigned.body.dump();

      await waitFor(() => onStatus.mock.calls.length >= 2, { timeout: 15_000, what: 'both events handled' });
      await receiver.drain();
      expect(onStatus.mock.calls).toEqual([
        ['BUYER_1', 'REJECTED', REASONS.map((r) => r.code)],
        ['BUYER_2', 'APPROVED', []],
      ]);
      expect(fs.existsSync(inbox)).toBe(true);
    });
  });
}

describe('examples/quickstart.ts (the README snippet)', () => {
  it('runs as written: receives a signed event, prints it once, keeps its inbox in ./tpcs-inbox.db', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const tsx = pathToFileURL(path.resolve('node_modules/tsx/dist/loader.mjs')).href;
    const child = spawn(process.execPath, ['--import', tsx, path.resolve('examples/quickstart.ts')], {
      cwd,
      env: { ...process.env, WEBHOOK_SECRET: SECRET, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const url = `http://127.0.0.1:${port}/`;
    await waitFor(
      async () => {
        await (await request(url, { method: 'GET' })).body.dump();
        return true;
      },
      { timeout: 20_000, what: 'the quickstart listening' },
    );

    const event = signedRequest({ status: 'REJECTED', ref: 'QUICK_1' });
    expect((await post(url, event)).status).toBe(200);
    expect((await post(url, event)).body.outcome).toBe('duplicate');
    // Handled once, as its inbox (in the child's folder) says: done, at the first try; a handled event
    // is never run again, and the duplicate recorded nothing to run.
    const inbox = path.join(cwd, 'tpcs-inbox.db');
    const row = () => {
      const db = new Database(inbox, { readonly: true, fileMustExist: true });
      try {
        return db.prepare('SELECT state, attempts FROM inbox_events WHERE event_id = ?').get(event.eventId) as
          | { state: string; attempts: number }
          | undefined;
      } finally {
        db.close();
      }
    };
    const handled = await waitFor(
      () => {
        const r = row();
        return r?.state === 'handled' && r;
      },
      { what: 'QUICK_1 handled' },
    );
    expect(handled).toEqual({ state: 'handled', attempts: 0 });
    // What it printed: the line of a later event, handled after QUICK_1 was, marks the end of it
    const later = signedRequest({ status: 'APPROVED', ref: 'QUICK_2' });
    expect((await post(url, later)).status).toBe(200);
    await waitFor(() => out.includes('approved QUICK_2'), { timeout: 15_000, what: "QUICK_2's line" });
    expect(out.match(/rejected QUICK_1/g)).toHaveLength(1);
    expect(out).toContain('COMPLIANCE_CHECK_FAILED');
  });
});
