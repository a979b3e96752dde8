/**
 * bench/peers: tpcs's webhook delivery against the job queues a team would use instead, on one
 * machine, one sink, the same signed bodies (issue 13).
 *
 * Every system drains `--deliveries` signed Standard Webhooks requests (tpcs's event JSON, signed by
 * src/signing, its headers) for `--endpoints` endpoints, all queued before the clock starts, into
 * one bare node:http sink answering 200. The sink runs in a process of its own (bench/peers/
 * sink-server.ts), so its CPU never competes inside the measured process. A run is timed from the
 * sink's first receipt to its last; deliveries/s is the count over that time.
 *
 * - ceiling: a bare undici loop signing and posting the same bodies, 50 in flight, no queue.
 * - graphile-worker 0.18, concurrency 50, batched: localQueue of 500, completions batched over 100 ms.
 * - bullmq 6.7 on Redis (127.0.0.1:6379), concurrency 50; skipped, with the reason, when Redis does not
 *   answer or its client (ioredis, an optional peer dependency of bullmq 6.7) is not installed.
 * - pg-boss 12: batch fetch, two local workers of 25 jobs each, fetching at once while batches are full.
 * - tpcs-sqlite / tpcs-postgres / tpcs-postgres-3: one decision per event through the store (fanned out
 *   to every endpoint, as the product queues them), then one or three `tpcs worker` processes (the
 *   built CLI: run `npm run build` first) with the shipped defaults, private endpoints allowed.
 *
 * The job queues run their jobs in this process, each job calling the ceiling's own post function.
 * Each PostgreSQL system gets a throwaway database per round (tpcs_peers_<n>, dropped after). Database
 * CPU is read from /proc: utime + stime of that database's backends (or of redis-server), from before
 * the workers start to 1 s after the last delivery (time for batched completions); see peers/cpu.ts.
 * Rounds are interleaved (round 1 runs every system, then round 2, …), and the table shows medians
 * with [min–max]; × ceiling is each round's ratio to that round's ceiling.
 *
 * Usage (Node 20; graphile-worker 0.18 and pg-boss 12 declare Node >= 22 but run here on 20.20):
 *   npm run build && npx tsx bench/peers.ts [--rounds 5] [--deliveries 20000] [--endpoints 100]
 *     [--only ceiling,graphile-worker,bullmq,pg-boss,tpcs-sqlite,tpcs-postgres,tpcs-postgres-3]
 *   npm run bench -- peers -- --rounds 3
 * PostgreSQL at TEST_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432), on this machine.
 */
import { parseArgs } from 'node:util';
import { postmasterPid } from './peers/cpu.js';
import type { Measurement, RunContext } from './peers/measure.js';
import { bullmq, bullmqUnavailable, ceiling, graphileWorker, pgBoss } from './peers/queues.js';
import { startSink } from './peers/sink.js';
import { tpcsPostgres, tpcsSqlite } from './peers/tpcs.js';
import { webhooksFor } from './peers/webhooks.js';
import { describeMachine, formatInteger, markdownTable, median } from './table.js';

interface System {
  name: string;
  label: string;
  run(ctx: RunContext): Promise<Measurement>;
}

const SYSTEMS: System[] = [
  { name: 'ceiling', label: 'bare undici loop (ceiling)', run: ceiling },
  {
    name: 'graphile-worker',
    label: 'graphile-worker 0.18, batched (localQueue 500, completions batched 100 ms)',
    run: graphileWorker,
  },
  { name: 'bullmq', label: 'BullMQ 6.7 on Redis, concurrency 50', run: bullmq },
  { name: 'pg-boss', label: 'pg-boss 12, batch fetch (2 × 25)', run: pgBoss },
  { name: 'tpcs-sqlite', label: 'tpcs on SQLite, one process', run: tpcsSqlite },
  { name: 'tpcs-postgres', label: 'tpcs on PostgreSQL, one process', run: tpcsPostgres(1) },
  { name: 'tpcs-postgres-3', label: 'tpcs on PostgreSQL, three worker processes', run: tpcsPostgres(3) },
];

const CONCURRENCY = 50;
const USAGE = `usage: npx tsx bench/peers.ts [--rounds N] [--deliveries N] [--endpoints N] [--only ${SYSTEMS.map((s) => s.name).join(',')}]`;

interface Options {
  rounds: number;
  deliveries: number;
  endpoints: number;
  systems: System[];
}

/** The flags, or the reason they cannot be used. */
function readOptions(argv: string[]): Options | string {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        rounds: { type: 'string', default: '5' },
        deliveries: { type: 'string', default: '20000' },
        endpoints: { type: 'string', default: '100' },
        only: { type: 'string' },
      },
    }));
  } catch (error) {
    return (error as Error).message;
  }
  const count = (flag: string) => {
    const n = Number(values[flag]);
    return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
  };
  const [rounds, deliveries, endpoints] = [count('rounds'), count('deliveries'), count('endpoints')];
  if (rounds === undefined) return `--rounds must be a whole number >= 1, got ${values.rounds}`;
  if (deliveries === undefined) return `--deliveries must be a whole number >= 1, got ${values.deliveries}`;
  if (endpoints === undefined) return `--endpoints must be a whole number >= 1, got ${values.endpoints}`;
  if (deliveries % endpoints !== 0) {
    return `--deliveries (${deliveries}) must be a multiple of --endpoints (${endpoints}): each event goes to every endpoint`;
  }
  const names = values.only?.split(',').map((s) => s.trim()) ?? SYSTEMS.map((s) => s.name);
  const unknown = names.filter((n) => !SYSTEMS.some((s) => s.name === n));
  if (unknown.length > 0) return `--only: no system named ${unknown.join(', ')}`;
  return { rounds, deliveries, endpoints, systems: SYSTEMS.filter((s) => names.includes(s.name)) };
}

const seconds = (n: number) => n.toFixed(1);
const range = (xs: number[], format: (n: number) => string) =>
  xs.length === 0 ? '–' : `${format(median(xs))} [${format(Math.min(...xs))}–${format(Math.max(...xs))}]`;

async function main(): Promise<number> {
  const options = readOptions(process.argv.slice(2));
  if (typeof options === 'string') {
    console.error(`peers: ${options}\n${USAGE}`);
    return 2;
  }
  const started = performance.now();
  const adminUrl = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  adminUrl.pathname = '/postgres';
  let systems = options.systems;
  const skipped: string[] = [];
  const noBullmq = systems.some((s) => s.name === 'bullmq') ? await bullmqUnavailable() : undefined;
  if (noBullmq) {
    skipped.push(`BullMQ: ${noBullmq}`);
    systems = systems.filter((s) => s.name !== 'bullmq');
  }
  for (const reason of skipped) console.error(`peers: skipped ${reason}`);

  const sink = await startSink();
  const events = options.deliveries / options.endpoints;
  const ctx: RunContext = {
    sink,
    webhooks: webhooksFor(sink.url, events, options.endpoints),
    events,
    endpoints: options.endpoints,
    concurrency: CONCURRENCY,
    adminUrl: adminUrl.toString(),
    postmaster: await postmasterPid(adminUrl.toString()),
    timeoutMs: Math.max(60_000, options.deliveries * 5),
  };
  // the first round's ceiling would otherwise pay for this process's JIT warm-up (signing, undici)
  await ceiling({ ...ctx, webhooks: ctx.webhooks.slice(0, 5000) });
  const runs = new Map<string, Measurement[]>(systems.map((s) => [s.name, []]));
  const ratios = new Map<string, number[]>(systems.map((s) => [s.name, []]));
  const failures = new Map<string, number>();
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const ceilingRate: { value?: number } = {};
      for (const system of systems) {
        const m = await system.run(ctx).catch((error: Error) => {
          console.error(`round ${round} ${system.name}: failed: ${error.message}`);
          failures.set(system.name, (failures.get(system.name) ?? 0) + 1);
        });
        if (!m) continue;
        runs.get(system.name)?.push(m);
        if (system.name === 'ceiling') ceilingRate.value = m.perSecond;
        if (ceilingRate.value !== undefined) ratios.get(system.name)?.push(m.perSecond / ceilingRate.value);
        console.error(
          `round ${round} ${system.name}: ${formatInteger(m.perSecond)}/s` +
            (m.dbCpu ? `, ${m.dbCpu.store} CPU ${m.dbCpu.seconds.toFixed(2)} s` : '') +
            `, worker CPU ${m.workerCpuSeconds.toFixed(2)} s${m.duplicates ? `, ${m.duplicates} duplicates` : ''}`,
        );
      }
    }
  } finally {
    sink.close();
  }

  const rows = systems.map((system) => {
    const ms = runs.get(system.name) ?? [];
    const ratio = ratios.get(system.name) ?? [];
    const db = ms.flatMap((m) => (m.dbCpu ? [m.dbCpu.seconds] : []));
    const store = ms[0]?.dbCpu?.store;
    const failed = failures.get(system.name);
    return [
      failed ? `${system.label} (${failed} of ${options.rounds} rounds failed)` : system.label,
      range(
        ms.map((m) => m.perSecond),
        formatInteger,
      ),
      ratio.length ? median(ratio).toFixed(2) : '–',
      store ? `${store} ${range(db, seconds)}` : system.name === 'tpcs-sqlite' ? 'in process' : '–',
      store ? formatInteger((median(db) * 1e6) / options.deliveries) : '–',
      range(
        ms.map((m) => m.workerCpuSeconds),
        seconds,
      ),
    ];
  });
  console.log(`\n### Peers: tpcs against job queues (bench/peers)\n`);
  console.log(`Machine: ${describeMachine()}\n`);
  console.log(
    markdownTable(
      [
        'system',
        'deliveries/s',
        '× ceiling',
        `database CPU s for ${formatInteger(options.deliveries)}`,
        'µs DB CPU / delivery',
        'worker CPU s',
      ],
      rows,
      ['left', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  console.log(
    `\n${formatInteger(options.deliveries)} signed deliveries (${formatInteger(events)} events × ${options.endpoints} endpoints), ` +
      `queued before the clock starts, into one node:http sink in its own process; medians of ${options.rounds} ` +
      `interleaved round(s) [min–max]. Database CPU: utime + stime of the run's PostgreSQL backends (or redis-server) ` +
      `from /proc. Worker CPU: the process(es) running the jobs (this process for the ceiling and the queues, ` +
      `the \`tpcs worker\` processes for tpcs).${skipped.length ? ` Skipped: ${skipped.join('; ')}.` : ''} ` +
      `Run took ${Math.round((performance.now() - started) / 1000)} s.`,
  );
  return failures.size > 0 ? 1 : 0;
}

process.exit(await main());
