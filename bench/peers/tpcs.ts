/**
 * tpcs itself: the deliveries queued the way the product queues them (one compliance decision per
 * event, through the store, fanned out to every endpoint in the decision's transaction), then
 * drained by `tpcs worker` processes (the built CLI) with the shipped defaults.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENT_TYPE } from '../../src/contract/index.js';
import { recordComplianceDecision } from '../../src/customers/decisions.js';
import { openStorage } from '../../src/storage/index.js';
import { BENCH_SECRETS_KEY } from '../table.js';
import { type CpuMeter, meterProcess } from './cpu.js';
import { type Measurement, measure, type RunContext, withDatabase } from './measure.js';
import { endpointUrl, PARTNER_ID, SECRET, thirdPartyRef } from './webhooks.js';

const BIN = fileURLToPath(new URL('../../bin/tpcs.js', import.meta.url));

/** One partner with `ctx.endpoints` endpoints and one decision per event: events × endpoints deliveries. */
async function queueDeliveries(ctx: RunContext, databaseUrl: string): Promise<void> {
  const storage = await openStorage(databaseUrl, { secrets: { key: BENCH_SECRETS_KEY } });
  const { store } = storage;
  try {
    await store.createPartner({
      customerId: PARTNER_ID,
      name: 'bench',
      tokenHash: 'bench',
      createdAt: new Date(),
    });
    for (let i = 0; i < ctx.endpoints; i++) {
      await store.createEndpoint({
        id: `ep_${String(i).padStart(16, '0')}`,
        customerId: PARTNER_ID,
        url: endpointUrl(ctx.sink.url, i),
        description: null,
        eventTypes: [EVENT_TYPE],
        secret: SECRET,
        createdAt: new Date(),
      });
    }
    for (let e = 0; e < ctx.events; e++) {
      const ref = thirdPartyRef(e);
      await store.createThirdParty({
        customerId: PARTNER_ID,
        clientCustomerRef: ref,
        clientCustomerDetails: {},
        propertyDetails: [],
        createdAt: new Date(),
      });
      const r = await recordComplianceDecision(store, {
        customerId: PARTNER_ID,
        clientCustomerRef: ref,
        decision: { status: 'APPROVED' },
      });
      if (r.outcome !== 'changed') throw new Error(`decision on ${ref}: ${r.outcome}`);
    }
  } finally {
    await storage.close();
  }
}

interface WorkerProcess {
  child: ChildProcess;
  cpu: CpuMeter;
  stop(): Promise<void>;
}

/** `tpcs worker` with the shipped defaults, but for what the bench must set; resolves once it delivers. */
async function startWorker(databaseUrl: string): Promise<WorkerProcess> {
  // PEERS_WORKER_PROFILE=<dir>: each worker writes a V8 CPU profile there when it exits (node --cpu-prof)
  const profile = process.env.PEERS_WORKER_PROFILE;
  const nodeFlags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const child = spawn(process.execPath, [...nodeFlags, BIN, 'worker'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      SECRETS_KEY: BENCH_SECRETS_KEY,
      ALLOW_PRIVATE_ENDPOINTS: 'true', // the sink is on 127.0.0.1
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      output += b.toString();
      if (output.includes('delivering')) resolve();
    });
    child.stderr?.on('data', (b: Buffer) => {
      output += b.toString();
    });
    child.once('exit', (code) => reject(new Error(`tpcs worker exited (${code}): ${output}`)));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('tpcs worker: no pid');
  return {
    child,
    cpu: meterProcess(pid),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(force);
      // warnings and errors only (LOG_LEVEL=warn), e.g. why a run delivered nothing
      for (const line of output.split('\n')) {
        if (/"level":(40|50|60)/.test(line)) console.error(`tpcs worker ${pid}: ${line}`);
      }
    },
  };
}

/** Starts `count` workers at once; their CPU is summed. */
async function startWorkers(databaseUrl: string, count: number) {
  const workers = await Promise.all(Array.from({ length: count }, () => startWorker(databaseUrl)));
  return {
    cpu: { stop: () => workers.reduce((sum, w) => sum + w.cpu.stop(), 0) },
    stop: () => Promise.all(workers.map((w) => w.stop())).then(() => {}),
  };
}

/** tpcs on SQLite: one `tpcs worker` (one process is all SQLite allows to write at a time anyway). */
export async function tpcsSqlite(ctx: RunContext): Promise<Measurement> {
  const dir = mkdtempSync(join(tmpdir(), 'tpcs-peers-'));
  try {
    const url = `sqlite:${join(dir, 'tpcs.db')}`;
    await queueDeliveries(ctx, url);
    return await measure(ctx, () => startWorkers(url, 1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** tpcs on PostgreSQL with `workers` `tpcs worker` processes. */
export function tpcsPostgres(workers: number) {
  return (ctx: RunContext): Promise<Measurement> =>
    withDatabase(ctx, async (db) => {
      await queueDeliveries(ctx, db.url);
      return measure(ctx, () => startWorkers(db.url, workers), db.meter);
    });
}
