/**
 * `tpcs serve` on a PostgreSQL that crashes, that holds a lock, and that freezes, under a steady load
 * of decisions and event-list reads sent by a real HTTP client. The cluster is the test's own (initdb
 * in a temp folder, a free port), so it can be stopped with `pg_ctl stop -m immediate`, locked by
 * another session, and frozen with SIGSTOP to every one of its processes. While the database is
 * away, every request is answered 2xx, 503 with Retry-After or 4xx, never 500, and within its bound
 * (DATABASE_TIMEOUT 1 s: a connection, then a statement); `/readyz` says 503 while the server is down
 * or frozen and 200 after; and every event acknowledged by a 2xx is listed and delivered to a real
 * endpoint afterwards. Needs root (the cluster runs as user postgres) and `npm run build`; skips with
 * the reason otherwise.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sink, startSink } from '../dispatcher/sink.js';
import { waitFor } from '../support/wait-for.js';
import {
  type Cluster,
  clusterSkipReason,
  type HttpClient,
  httpClient,
  type Load,
  type LoadCounts,
  listedEventIds,
  readiness,
  type Serve,
  setUpPartner,
  startCluster,
  startLoad,
  startServe,
} from './support.js';

const skip = clusterSkipReason();
if (skip) console.warn(`test/faults/postgres.test.ts skipped: ${skip}`);

const DATABASE_TIMEOUT_MS = 1000;
/**
 * The longest a request may wait on the database: a turn at a connection (DATABASE_TIMEOUT), then a
 * statement that never answers (DATABASE_TIMEOUT and a quarter, the client-side query timeout).
 */
const BOUND_MS = 2.25 * DATABASE_TIMEOUT_MS;
/** The client gives up a little after the bound: a request still unanswered then is one that hung. */
const CLIENT_TIMEOUT_MS = BOUND_MS + 2000;

describe.skipIf(skip !== undefined)('tpcs serve while its PostgreSQL crashes, locks up and freezes', () => {
  let cluster: Cluster | undefined;
  let serve: Serve | undefined;
  let sink: Sink | undefined;
  let client: HttpClient;
  let load: Load;
  let partner: Awaited<ReturnType<typeof setUpPartner>>;

  beforeAll(async () => {
    cluster = await startCluster();
    sink = await startSink();
    serve = await startServe({ DATABASE_URL: cluster.url, DATABASE_TIMEOUT: `${DATABASE_TIMEOUT_MS}ms` });
    client = httpClient(CLIENT_TIMEOUT_MS);
    partner = await setUpPartner(client, serve.base, { count: 100, hookUrl: sink.url('/hook') });
    load = startLoad(client, serve.base, partner);
    await load.moreOk(30);
  });

  afterAll(async () => {
    await load?.stop();
    await serve?.stop();
    await client?.close();
    await sink?.close();
    await cluster?.destroy();
  });

  /** Waits for /readyz to say 503, then checks it keeps saying so (the outage is still on). */
  async function notReadyWhileItLasts(base: string) {
    await waitFor(async () => (await readiness(client, base)) === 503, { what: '/readyz answering 503' });
    for (let i = 0; i < 3; i++) expect(await readiness(client, base)).toBe(503);
  }

  /** Decisions and reads alike: 2xx, 503 with Retry-After or 4xx, each within the client's deadline. */
  function expectOnlyPromisedAnswers() {
    expect(load.unexpected).toEqual([]);
    for (const counts of [load.counts, load.reads]) {
      expect(counts).toMatchObject({ other: 0, timedOut: 0, noAnswer: 0 });
    }
  }

  it('answers 503 with Retry-After while PostgreSQL is down, and 2xx again once it is back', async () => {
    const base = serve?.base ?? '';
    const before = { ...load.counts };
    await cluster?.crash();
    await notReadyWhileItLasts(base);
    await waitFor(() => load.counts.unavailable >= before.unavailable + 40, {
      timeout: 20_000,
      what: () => `40 decisions answered 503 (${JSON.stringify(load.counts)})`,
    });
    await cluster?.start();
    await waitFor(async () => (await readiness(client, base)) === 200, {
      timeout: 20_000,
      what: '/readyz answering 200',
    });
    await load.moreOk(30);
    console.log(`PostgreSQL crashed and restarted, decisions: ${JSON.stringify(diff(load.counts, before))}`);
    expectOnlyPromisedAnswers();
  });

  it('answers 503 with Retry-After when a lock holds its statements past DATABASE_TIMEOUT', async () => {
    const before = { ...load.counts };
    const beforeReads = { ...load.reads };
    // another session holds the events table: decisions (which insert) and event reads wait on it
    const blocker = new pg.Client({ connectionString: cluster?.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      await waitFor(
        () =>
          load.counts.unavailable >= before.unavailable + 12 &&
          load.reads.unavailable >= beforeReads.unavailable + 3,
        { timeout: 30_000, what: () => `decisions and reads answered 503 (${JSON.stringify(load.counts)})` },
      );
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      await blocker.end();
    }
    await load.moreOk(30);
    console.log(`events table locked, decisions: ${JSON.stringify(diff(load.counts, before))}`);
    expectOnlyPromisedAnswers();
  });

  it('answers 503 with Retry-After within the bound while PostgreSQL is frozen, and 2xx after', async () => {
    const base = serve?.base ?? '';
    const before = { ...load.counts };
    const frozen = cluster?.freeze() ?? [];
    try {
      await notReadyWhileItLasts(base);
      // each of these waited out DATABASE_TIMEOUT on a server that never answers: held long enough
      // for the pool's connections to be used up by statements that never end, and new ones to wait
      await waitFor(() => load.counts.unavailable >= before.unavailable + 20, {
        timeout: 30_000,
        what: () => `20 decisions answered 503 (${JSON.stringify(load.counts)})`,
      });
    } finally {
      cluster?.thaw(frozen);
    }
    await waitFor(async () => (await readiness(client, base)) === 200, {
      timeout: 20_000,
      what: '/readyz answering 200',
    });
    await load.moreOk(30);
    console.log(
      `PostgreSQL frozen (${frozen.length} processes) and thawed, decisions: ${JSON.stringify(diff(load.counts, before))}`,
    );
    expectOnlyPromisedAnswers();
  });

  it('loses nothing it acknowledged: every event of a 2xx decision is listed and delivered', async () => {
    const counts = await load.stop();
    const base = serve?.base ?? '';
    const listed = await listedEventIds(client, base, partner.customerId, partner.token);
    const acknowledged = load.acknowledged;
    expect(acknowledged.filter((id) => !listed.has(id))).toEqual([]);
    const received = () => new Set(sink?.received.map((r) => String(r.headers['webhook-id'])));
    await waitFor(() => acknowledged.every((id) => received().has(id)), {
      timeout: 30_000,
      what: () =>
        `delivery of ${acknowledged.filter((id) => !received().has(id)).length} acknowledged events`,
    });
    const receipts = sink?.received.length ?? 0;
    console.log(
      `over the whole run, decisions: ${JSON.stringify(counts)}; event-list reads: ${JSON.stringify(load.reads)}; ` +
        `events acknowledged ${acknowledged.length}, ` +
        `listed ${listed.size}, deliveries received ${receipts} (${receipts - received().size} duplicates)`,
    );
    expectOnlyPromisedAnswers();
  });
});

/** The counts since `before` (the slowest 503 is the run's so far). */
function diff(after: LoadCounts, before: LoadCounts): LoadCounts {
  return Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, k === 'slowest503Ms' ? v : v - before[k as keyof LoadCounts]]),
  ) as unknown as LoadCounts;
}
