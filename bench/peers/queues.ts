/**
 * The ceiling and the job queues a team would use instead of tpcs, each running its jobs in this
 * process with one handler: `poster.post(webhook)`, which signs and POSTs like the ceiling loop.
 * Jobs are queued before the clock starts, with each queue's batch insert.
 */
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { Queue, Worker } from 'bullmq';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { findProcess, meterProcess, meterSelf } from './cpu.js';
import { type Measurement, measure, type RunContext, withDatabase } from './measure.js';
import { createPoster, type Webhook } from './webhooks.js';

const REDIS = { host: '127.0.0.1', port: 6379 };
const INSERT_CHUNK = 2000;

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** The ceiling: a bare loop over the webhooks, `concurrency` at a time, no queue at all. */
export function ceiling(ctx: RunContext): Promise<Measurement> {
  return measure(ctx, async () => {
    const cpu = meterSelf();
    const poster = createPoster(ctx.sink.url, ctx.concurrency);
    let next = 0;
    const loop = Promise.all(
      Array.from({ length: ctx.concurrency }, async () => {
        for (let w = ctx.webhooks[next++]; w; w = ctx.webhooks[next++]) await poster.post(w);
      }),
    );
    return { cpu, stop: () => loop.then(() => poster.close()) };
  });
}

/** Errors only: the queues' info lines would interleave with the bench's. */
const quietGraphileLogger = new Logger(() => (level, message) => {
  if (level === 'error') console.error(`graphile-worker: ${message}`);
});

/**
 * graphile-worker with batching as its performance guide suggests for many short jobs: a local
 * queue fetching (and locking) 500 jobs at a time, completions batched over 100 ms.
 */
export function graphileWorker(ctx: RunContext): Promise<Measurement> {
  return withDatabase(ctx, async (db) => {
    const utils = await makeWorkerUtils({ connectionString: db.url, logger: quietGraphileLogger });
    await utils.migrate();
    for (const batch of chunks(ctx.webhooks, INSERT_CHUNK)) {
      await utils.addJobs(batch.map((payload) => ({ identifier: 'deliver', payload })));
    }
    await utils.release();
    return measure(
      ctx,
      async () => {
        const cpu = meterSelf();
        const poster = createPoster(ctx.sink.url, ctx.concurrency);
        // our own pool, ended by us: graphile's own may still hold a connection after stop() resolves,
        // and dropping the database then kills it with no one listening (an unhandled 'error')
        const pgPool = new pg.Pool({ connectionString: db.url, max: ctx.concurrency + 2 });
        pgPool.on('error', () => {});
        const runner = await run({
          pgPool,
          concurrency: ctx.concurrency,
          noHandleSignals: true,
          logger: quietGraphileLogger,
          taskList: { deliver: (payload) => poster.post(payload as Webhook) },
          preset: {
            worker: {
              localQueue: { size: 500 },
              completeJobBatchDelay: 100,
              failJobBatchDelay: 100,
            },
          },
        });
        return {
          cpu,
          stop: async () => {
            await runner.stop();
            await poster.close();
            await pgPool.end();
          },
        };
      },
      db.meter,
    );
  });
}

/**
 * Why BullMQ cannot run here, or undefined when it can: bullmq 6.7 declares its Redis client
 * (ioredis) an optional peer dependency, so it may be missing, and Redis itself may not answer.
 */
export async function bullmqUnavailable(): Promise<string | undefined> {
  try {
    createRequire(import.meta.url).resolve('ioredis');
  } catch {
    return 'bullmq 6.7 needs its optional peer dependency ioredis, which is not installed (npm i -D ioredis)';
  }
  if (!(await redisAnswers())) return `no Redis answering PING at ${REDIS.host}:${REDIS.port}`;
  return undefined;
}

/** Whether Redis answers PING at 127.0.0.1:6379 within a second. */
function redisAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(REDIS.port, REDIS.host);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (b) => done(b.toString().startsWith('+PONG')));
  });
}

let bullQueues = 0;

/** BullMQ on Redis, one Worker with concurrency `ctx.concurrency`; its queue is obliterated after. */
export async function bullmq(ctx: RunContext): Promise<Measurement> {
  const connection = { ...REDIS, maxRetriesPerRequest: null };
  const name = `tpcs-peers-${process.pid}-${++bullQueues}`;
  const queue = new Queue<Webhook>(name, { connection });
  try {
    for (const batch of chunks(ctx.webhooks, INSERT_CHUNK)) {
      await queue.addBulk(batch.map((data) => ({ name: 'deliver', data })));
    }
    const redis = findProcess('redis-server');
    return await measure(
      ctx,
      async () => {
        const cpu = meterSelf();
        const poster = createPoster(ctx.sink.url, ctx.concurrency);
        const worker = new Worker<Webhook>(name, (job) => poster.post(job.data), {
          connection,
          concurrency: ctx.concurrency,
        });
        worker.on('error', (err) => console.error('bullmq:', err));
        return { cpu, stop: () => worker.close().then(() => poster.close()) };
      },
      redis === undefined ? undefined : () => ({ store: 'Redis', meter: meterProcess(redis) }),
    );
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

/**
 * pg-boss 12 fetching in batches: two local workers each taking 25 jobs a fetch (50 in flight, as
 * the others), fetching again at once while batches come back full.
 */
export function pgBoss(ctx: RunContext): Promise<Measurement> {
  return withDatabase(ctx, async (db) => {
    const boss = new PgBoss({ connectionString: db.url });
    boss.on('error', (err) => console.error('pg-boss:', err));
    await boss.start();
    try {
      await boss.createQueue('deliver');
      for (const batch of chunks(ctx.webhooks, INSERT_CHUNK)) {
        await boss.insert(
          'deliver',
          batch.map((data) => ({ data })),
        );
      }
      return await measure(
        ctx,
        async () => {
          const cpu = meterSelf();
          const poster = createPoster(ctx.sink.url, ctx.concurrency);
          const id = await boss.work<Webhook>(
            'deliver',
            {
              batchSize: Math.max(1, Math.floor(ctx.concurrency / 2)),
              localConcurrency: 2,
              pollingIntervalSeconds: 0.5,
              burstWhenBatchFull: true,
            },
            async (jobs) => {
              await Promise.all(jobs.map((job) => poster.post(job.data)));
            },
          );
          return { cpu, stop: () => boss.offWork('deliver', { id }).then(() => poster.close()) };
        },
        db.meter,
      );
    } finally {
      await boss.stop({ graceful: false });
    }
  });
}
