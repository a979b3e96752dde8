/**
 * Real processes for the CLI tests: `node bin/tpcs.js …` (needs `npm run build`), `tpcs serve` on a
 * free port with a temporary SQLite file, `tpcs receive`, and small local HTTP servers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { freePort } from '../support/net.js';

import { SETTINGS } from '../../src/config/settings.js';
import { freePort } from '../support/net.js';

/** A finished `tpcs` run. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tpcs args…` to completion, with `input` on stdin (closed otherwise). */
export function tpcs(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string | Buffer } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/tpcs.js', ...args], {
      env: { ...cleanEnv(), ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    // a command that never ends fails the test with what it printed, instead of its timeout saying nothing
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tpcs ${args.join(' ')}: no exit after 60 s\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input);
  });
}

/** The environment without the variables the commands read, so the developer's shell cannot leak in. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // every variable a setting reads (src/config/settings.ts), and the CLI's own
  const names = [...Object.values(SETTINGS).map((s) => s.env), 'TPCS_TOKEN', 'TPCS_CUSTOMER_ID', 'TPCS_API'];
  for (const name of names) delete env[name];
  return env;
}

/** A long-running `tpcs` process and everything it printed so far. */
export interface Daemon {
  child: ChildProcess;
  output: { stdout: string; stderr: string };
  /** The first match of `pattern` in stdout, waiting up to `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

/** Starts `tpcs args…` in the background. */
export function start(args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
  const child = spawn(process.execPath, ['bin/tpcs.js', ...args], {
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (c: Buffer) => {
    output.stdout += c.toString();
    for (const w of waiters) w();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output.stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output,
    exited,
    waitFor(pattern, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output.stdout);
          if (!match) return;
          cleanup();
          resolve(match);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `timed out waiting for ${pattern}\nstdout:\n${output.stdout}\nstderr:\n${output.stderr}`,
            ),
          );
        }, ms);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        void exited.then((code) => {
          if (!waiters.has(check)) return;
          cleanup();
          reject(
            new Error(
              `exited with ${code} before ${pattern}\nstdout:\n${output.stdout}\nstderr:\n${output.stderr}`,
            ),
          );
        });
        check();
      });
    },
  };
}

/** `tpcs serve` on a free port with a fresh SQLite file and a known admin token. */
export async function startServe(env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-cli-'));
  const port = await freePort();
  const adminToken = 'test-admin-token-0123456789';
  const daemon = start(['serve'], {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${join(dir, 'tpcs.db')}`,
    ADMIN_TOKEN: adminToken,
    ALLOW_PRIVATE_ENDPOINTS: 'true',
    RETRY_SCHEDULE: '1s',
    LOG_LEVEL: 'warn',
    ...env,
  });
  await daemon.waitFor(/listening on/);
  return { ...daemon, base: `http://127.0.0.1:${port}`, adminToken, dir };
}

/** Calls the service's API with fetch and returns status and JSON. */
export async function api(base: string, method: string, path: string, token: string, body?: unknown) {
  try {
    const res = await fetch(`${base}${path}`, {
      // a request the service never answers fails with its path, instead of the test's timeout
      signal: AbortSignal.timeout(30_000),
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch (error) {
    throw new Error(`${method} ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** A request a local server received. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A local HTTP server answering with `answer`, remembering every request. */
export async function localServer(
  answer: (req: Received) => { status: number; body?: string } = () => ({ status: 200 }),
): Promise<{ url: string; received: Received[]; server: Server; close(): Promise<void> }> {
  const received: Received[] = [];
  const listener: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      received.push(r);
      const { status, body } = answer(r);
      res.writeHead(status, { 'content-type': 'application/json' }).end(body ?? '{}');
    });
  };
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
