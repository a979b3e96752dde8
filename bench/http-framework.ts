/**
 * Fastify or Hono? The same small JSON route on each (validate a zod body, answer JSON), each server
 * in its own process, driven by autocannon over loopback from this process, alternating rounds so
 * that a neighbour's load hits both alike. Prints req/s and p99 latency as a Markdown table.
 * Bounded to about 40 s.
 *
 *   npx tsx bench/http-framework.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { z } from 'zod';
import { describeMachine, formatInteger, markdownTable, median } from './table.js';

type Framework = 'fastify' | 'hono';
const FRAMEWORKS: readonly Framework[] = ['fastify', 'hono'];
const ROUNDS = 2;
const WARMUP_SECONDS = 1;
const MEASURE_SECONDS = 7;
const CONNECTIONS = 16;

/** The request body both servers validate: a slice of a third-party submission. */
const quoteSchema = z.strictObject({
  client_customer_ref: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  email: z.email(),
  amount: z.strictObject({ currency: z.string().regex(/^[A-Z]{3}$/), value: z.number().positive() }),
});
const BODY = JSON.stringify({
  client_customer_ref: 'CUST_001',
  email: 'ada@example.com',
  amount: { currency: 'USD', value: 750000.5 },
});
const answer = (q: z.output<typeof quoteSchema>) => ({
  client_customer_ref: q.client_customer_ref,
  status: 'PENDING',
});

async function serveFastify(): Promise<number> {
  const { default: Fastify } = await import('fastify');
  const { serializerCompiler, validatorCompiler } = await import('fastify-type-provider-zod');
  const app = Fastify({ logger: false });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.post(
    '/quote',
    {
      schema: {
        body: quoteSchema,
        response: { 201: z.object({ client_customer_ref: z.string(), status: z.string() }) },
      },
    },
    async (request, reply) => reply.code(201).send(answer(request.body as z.output<typeof quoteSchema>)),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

async function serveHono(): Promise<number> {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const app = new Hono();
  app.post('/quote', async (c) => {
    const body: unknown = await c.req.json().catch(() => undefined);
    const parsed = quoteSchema.safeParse(body);
    if (!parsed.success) return c.json({ error: { code: 'validation_failed' } }, 400);
    return c.json(answer(parsed.data), 201);
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Starts one framework's server in a child process and waits for its port. */
async function startChild(framework: Framework): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', framework],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /PORT (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`${framework} server exited with ${code}`)));
  });
  return { child, port };
}

async function drive(port: number, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}/quote`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    connections: CONNECTIONS,
    duration: seconds,
  });
}

async function main(): Promise<void> {
  const results: Record<Framework, { rps: number[]; p99: number[]; errors: number }> = {
    fastify: { rps: [], p99: [], errors: 0 },
    hono: { rps: [], p99: [], errors: 0 },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const framework of round % 2 === 0 ? FRAMEWORKS : [...FRAMEWORKS].reverse()) {
      const { child, port } = await startChild(framework);
      try {
        await drive(port, WARMUP_SECONDS);
        const r = await drive(port, MEASURE_SECONDS);
        results[framework].rps.push(r.requests.average);
        results[framework].p99.push(r.latency.p99);
        results[framework].errors += r.errors + r.non2xx;
      } finally {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
  }
  const rows = FRAMEWORKS.map((f) => [
    f === 'fastify' ? 'Fastify 5 + fastify-type-provider-zod' : 'Hono 4 + @hono/node-server, zod safeParse',
    formatInteger(median(results[f].rps)),
    `${median(results[f].p99).toFixed(1)} ms`,
    String(results[f].errors),
  ]);
  console.log(
    `POST /quote (zod-validated JSON body → JSON), ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${MEASURE_SECONDS} s (median shown), loopback\n`,
  );
  console.log(
    markdownTable(['framework', 'req/s', 'p99', 'errors'], rows, ['left', 'right', 'right', 'right']),
  );
  console.log(`\nMachine: ${describeMachine()}`);
}

const serveIndex = process.argv.indexOf('--serve');
if (serveIndex !== -1) {
  const framework = process.argv[serveIndex + 1] as Framework;
  const port = framework === 'hono' ? await serveHono() : await serveFastify();
  console.log(`PORT ${port}`);
  process.once('SIGTERM', () => process.exit(0));
} else {
  await main();
}
