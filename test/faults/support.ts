/**
 * Real faults for the `tpcs serve` fault tests (test/faults/): a throwaway PostgreSQL cluster the test
 * may stop, kill or freeze, the built `tpcs serve` as a child process, its API called with a real HTTP
 * client (undici) whose every request has a deadline, and a steady load of decisions that counts how
 * each was answered. Needs `npm run build` (the tests run `bin/tpcs.js`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { type Daemon, freePort, start } from '../cli/processes.js';
import { validThirdParty } from '../customers/fixtures.js';
import { waitFor } from '../support/wait-for.js';

export const ADMIN_TOKEN = 'fault-admin-token-0123456789';
export const EVENT_TYPE = 'THIRD PARTY CUSTOMER STATUS';
const SECRETS_KEY = randomBytes(32).toString('base64');

const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Why a test that runs its own PostgreSQL cluster cannot run here, or undefined when it can. */
export function clusterSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) {
    return 'not root: the test runs its own PostgreSQL cluster as user postgres (runuser), which needs root';
  }
  for (const tool of ['initdb', 'pg_ctl']) {
    if (!existsSync(join(PG_BIN, tool)))
      return `${join(PG_BIN, tool)} is missing (PostgreSQL 15 server binaries)`;
  }
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    return 'no user postgres to run the cluster as';
  }
  return undefined;
}

/** A PostgreSQL cluster of the test's own, on a free port, which the test may stop, restart or freeze. */
export interface Cluster {
  url: string;
  /** `pg_ctl stop -m immediate`: every process ends at once, as in a crash (recovery runs at start). */
  crash(): Promise<void>;
  /** Starts it again (after `crash`), resolving once it accepts connections. */
  start(): Promise<void>;
  /** SIGSTOP to the postmaster and every backend: the server still accepts TCP connections but never answers. */
  freeze(): number[];
  /** SIGCONT to what `freeze` stopped. */
  thaw(pids: number[]): void;
  /** Stops the cluster and removes its files. */
  destroy(): Promise<void>;
}

const run = promisify(execFile);

/** initdb and start a cluster in a new folder owned by postgres (PostgreSQL refuses to run as root). */
export async function startCluster(): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  // asynchronous: the test's own HTTP client keeps running (and timing its requests) meanwhile
  const asPostgres = async (tool: string, args: string[]) => {
    await run('runuser', ['-u', 'postgres', '--', join(PG_BIN, tool), ...args]);
  };
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  // fsync off: a killed server loses nothing the operating system already has, and this test kills
  // processes, not the machine; commits still wait for their WAL write (synchronous_commit stays on).
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const pgCtl = (args: string[]) => asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), ...args]);
  const startServer = () => pgCtl(['-o', options, '-w', '-t', '60', 'start']);
  await startServer();
  const postmaster = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    crash: () => pgCtl(['-m', 'immediate', '-w', 'stop']),
    start: startServer,
    freeze() {
      // the postmaster first, so that it forks no backend after the list is read
      const parent = postmaster();
      process.kill(parent, 'SIGSTOP');
      const children = childrenOf(parent);
      for (const pid of children) process.kill(pid, 'SIGSTOP');
      return [parent, ...children];
    },
    thaw(pids) {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // a backend that ended meanwhile
        }
      }
    },
    async destroy() {
      await pgCtl(['-m', 'immediate', '-w', 'stop']).catch(() => {
        // already stopped
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The processes whose parent is `parent`, from /proc (the comm field may hold spaces and parentheses). */
function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // ended while listing
    }
  }
  return pids;
}

/** A `tpcs serve` child process on a fixed port (so a restart keeps the address). */
export interface Serve {
  base: string;
  daemon: Daemon;
  /** Starts it again on the same port and database after it ended. */
  restart(): Promise<void>;
  /** SIGKILL, waiting for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, waiting for the exit. */
  stop(): Promise<void>;
}

/** Starts `tpcs serve` with a known admin token, loopback endpoints allowed and quick retries. */
export async function startServe(env: NodeJS.ProcessEnv): Promise<Serve> {
  const port = await freePort();
  const fullEnv: NodeJS.ProcessEnv = {
    PORT: String(port),
    HOST: '127.0.0.1',
    ADMIN_TOKEN,
    ALLOW_PRIVATE_ENDPOINTS: 'true',
    RETRY_SCHEDULE: '200ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s',
    RETRY_JITTER: 'none',
    DELIVERY_TIMEOUT: '1s',
    DELIVERY_LEASE: '2s',
    DELIVERY_POLL: '100ms',
    LOG_LEVEL: 'error',
    // endpoint secrets are stored encrypted; PostgreSQL needs the key given
    SECRETS_KEY: SECRETS_KEY,
    // the load is the test's, not abuse
    PARTNER_RATE_LIMIT: '0',
    ...env,
  };
  const launch = async () => {
    const daemon = start(['serve'], fullEnv);
    await daemon.waitFor(/listening on/, 30_000);
    return daemon;
  };
  const serve: Serve = {
    base: `http://127.0.0.1:${port}`,
    daemon: await launch(),
    async restart() {
      serve.daemon = await launch();
    },
    async kill() {
      const { child, exited } = serve.daemon;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      const { child, exited } = serve.daemon;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  return serve;
}

/** An answer, or why there was none. */
export type Outcome =
  | { kind: 'answer'; status: number; headers: Record<string, string | string[] | undefined>; body: unknown }
  | { kind: 'timeout' }
  | { kind: 'no-answer'; code: string };

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'TimeoutError',
  'AbortError',
]);

/** An HTTP client whose every request gives up after `timeoutMs` (reported as `timeout`, never thrown). */
export function httpClient(timeoutMs: number) {
  const agent = new Agent({
    connections: 32,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: { timeout: timeoutMs },
  });
  const call = async (
    method: 'GET' | 'POST',
    url: string,
    token?: string,
    body?: unknown,
  ): Promise<Outcome> => {
    try {
      const res = await request(url, {
        dispatcher: agent,
        method,
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      return { kind: 'answer', status: res.statusCode, headers: res.headers, body: parsed };
    } catch (err) {
      const e = err as { code?: string; name?: string };
      const code = e.code ?? e.name ?? 'unknown';
      return TIMEOUT_CODES.has(code) ? { kind: 'timeout' } : { kind: 'no-answer', code };
    }
  };
  return { call, close: () => agent.close() };
}

export type HttpClient = ReturnType<typeof httpClient>;

/** The JSON body of a 2xx answer, or a thrown error describing what came instead. */
export function ok<T>(outcome: Outcome, what: string): T {
  if (outcome.kind === 'answer' && outcome.status >= 200 && outcome.status < 300) return outcome.body as T;
  throw new Error(`${what}: ${JSON.stringify(outcome).slice(0, 500)}`);
}

/** A partner with an endpoint on `hookUrl` (when given) and `count` PENDING third parties, over the API. */
export async function setUpPartner(
  client: HttpClient,
  base: string,
  { count, hookUrl }: { count: number; hookUrl?: string },
): Promise<{ customerId: string; token: string; refs: string[] }> {
  const customerId = `0201${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`;
  const partner = ok<{ token: string }>(
    await client.call('POST', `${base}/api/v1/admin/partners`, ADMIN_TOKEN, { customer_id: customerId }),
    'create partner',
  );
  const token = partner.token;
  if (hookUrl !== undefined) {
    ok(
      await client.call('POST', `${base}/api/v1/customers/${customerId}/webhooks`, token, {
        url: hookUrl,
        event_types: [EVENT_TYPE],
      }),
      'create endpoint',
    );
  }
  const refs = Array.from({ length: count }, (_, i) => `CUST_${i}`);
  for (const ref of refs) {
    ok(
      await client.call(
        'POST',
        `${base}/api/v1/customers/${customerId}/third-parties`,
        token,
        validThirdParty(ref),
      ),
      `create third party ${ref}`,
    );
  }
  return { customerId, token, refs };
}

/** How the requests of a load were answered. */
export interface LoadCounts {
  /** 2xx. */
  ok: number;
  /** 503 with Retry-After. */
  unavailable: number;
  /** 4xx. */
  refused: number;
  /** Anything else: a 500, a 503 without Retry-After, another status. */
  other: number;
  /** No answer within the client's deadline. */
  timedOut: number;
  /** The connection was refused or dropped (the service itself is down). */
  noAnswer: number;
  /** The longest a 503 took to come, in ms (how long a request waited on the missing database). */
  slowest503Ms: number;
}

const zero = (): LoadCounts => ({
  ok: 0,
  unavailable: 0,
  refused: 0,
  other: 0,
  timedOut: 0,
  noAnswer: 0,
  slowest503Ms: 0,
});

/** A steady load of decisions and event-list reads; see {@link startLoad}. */
export interface Load {
  /** The decisions' answers. */
  counts: LoadCounts;
  /** The event-list reads' answers. */
  reads: LoadCounts;
  /** The event ids of the decisions answered 2xx with an event: what the service promised. */
  acknowledged: string[];
  /** The answers that were neither 2xx, 503 with Retry-After nor 4xx (at most 20 kept). */
  unexpected: Outcome[];
  /** Resolves once `n` more decisions than now have been answered 2xx. */
  moreOk(n: number, timeoutMs?: number): Promise<void>;
  /** Stops sending and waits for the requests in flight; returns the decisions' counts. */
  stop(): Promise<LoadCounts>;
}

/** Counts `outcome`, which took `ms`; true when it is one of the answers the service promises. */
function count(counts: LoadCounts, outcome: Outcome, ms: number): boolean {
  if (outcome.kind === 'timeout') {
    counts.timedOut++;
    return false;
  }
  if (outcome.kind === 'no-answer') {
    counts.noAnswer++;
    return true;
  }
  const { status } = outcome;
  if (status >= 200 && status < 300) counts.ok++;
  else if (status === 503 && outcome.headers['retry-after'] !== undefined) {
    counts.unavailable++;
    counts.slowest503Ms = Math.max(counts.slowest503Ms, Math.round(ms));
  } else if (status >= 400 && status < 500) counts.refused++;
  else {
    counts.other++;
    return false;
  }
  return true;
}

/**
 * `workers` loops, each deciding its share of `refs` in turn (APPROVED and REJECTED alternating, so
 * most decisions change the status and emit an event), and one loop reading the partner's latest
 * events, each pausing `pauseMs` between requests so that an outage's fast failures do not become a
 * flood.
 */
export function startLoad(
  client: HttpClient,
  base: string,
  partner: { customerId: string; token: string; refs: string[] },
  { workers = 4, pauseMs = 50 }: { workers?: number; pauseMs?: number } = {},
): Load {
  const counts = zero();
  const reads = zero();
  const acknowledged: string[] = [];
  const unexpected: Outcome[] = [];
  let running = true;
  const timed = async (counted: LoadCounts, call: () => Promise<Outcome>): Promise<Outcome> => {
    const started = performance.now();
    const outcome = await call();
    if (!count(counted, outcome, performance.now() - started) && unexpected.length < 20)
      unexpected.push(outcome);
    return outcome;
  };
  const decide = async (ref: string, status: 'APPROVED' | 'REJECTED') => {
    const url = `${base}/api/v1/admin/customers/${partner.customerId}/third-parties/${ref}/decision`;
    const body =
      status === 'APPROVED'
        ? { status }
        : { status, reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' }] };
    const outcome = await timed(counts, () => client.call('POST', url, ADMIN_TOKEN, body));
    if (outcome.kind === 'answer' && outcome.status >= 200 && outcome.status < 300) {
      const event = (outcome.body as { event: { event_id: string } | null }).event;
      if (event) acknowledged.push(event.event_id);
    }
  };
  const deciding = Array.from({ length: workers }, async (_, w) => {
    const mine = partner.refs.filter((_, i) => i % workers === w);
    for (let round = 0; running; round++) {
      for (const ref of mine) {
        if (!running) return;
        await decide(ref, round % 2 === 0 ? 'APPROVED' : 'REJECTED');
        await sleep(pauseMs);
      }
    }
  });
  const reading = (async () => {
    const url = `${base}/api/v1/customers/${partner.customerId}/events?limit=20`;
    while (running) {
      await timed(reads, () => client.call('GET', url, partner.token));
      await sleep(pauseMs);
    }
  })();
  const done = Promise.all([...deciding, reading]);
  return {
    counts,
    reads,
    acknowledged,
    unexpected,
    async moreOk(n, timeout = 20_000) {
      const target = counts.ok + n;
      await waitFor(() => counts.ok >= target, {
        timeout,
        what: () => `${n} more 2xx decisions (${JSON.stringify(counts)})`,
      });
    },
    async stop() {
      running = false;
      await done;
      return { ...counts };
    },
  };
}

/** Every event id in the partner's event list (all pages). */
export async function listedEventIds(
  client: HttpClient,
  base: string,
  customerId: string,
  token: string,
): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page: { events: { event_id: string }[]; next_cursor: string | null } = ok(
      await client.call('GET', `${base}/api/v1/customers/${customerId}/events?limit=100${query}`, token),
      'list events',
    );
    for (const e of page.events) ids.add(e.event_id);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return ids;
}

/** `/readyz`'s status, or 0 when it did not answer in time. */
export async function readiness(client: HttpClient, base: string): Promise<number> {
  const outcome = await client.call('GET', `${base}/readyz`);
  return outcome.kind === 'answer' ? outcome.status : 0;
}
