/**
 * bench/sender: the CPU one delivery attempt costs the dispatcher's sender, against a bare undici loop
 * posting the same signed bodies (issue 13).
 *
 * Both post 20,000 webhooks (200 events × 100 endpoints, tpcs's event JSON and headers), 50 in flight,
 * to bench/peers's sink in a process of its own, and are measured by this process's CPU (user +
 * system, every thread) per request:
 * - bare: bench/peers's poster (one undici Pool, sign, POST, dump the body): the peers' ceiling.
 * - sender: `createSender` as the dispatcher builds it (a Pool per endpoint, 8 connections each,
 *   the attempt timeout as an AbortSignal, the response excerpt read, the outcome built), private
 *   endpoints allowed.
 * Rounds are interleaved, after one that warms both up and is not counted; medians [min–max] and the
 * ratio to bare.
 *
 *   npx tsx bench/sender.ts [--rounds 5] [--deliveries 20000]
 */
import { parseArgs } from 'node:util';
import { createSender } from '../src/webhooks/dispatcher/sender.js';
import { startSink } from './peers/sink.js';
import { createPoster, SECRET, type Webhook, webhooksFor } from './peers/webhooks.js';
import { describeMachine, formatInteger, markdownTable, median } from './table.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    deliveries: { type: 'string', default: '20000' },
  },
});
const ROUNDS = Number(values.rounds);
const ENDPOINTS = 100;
const EVENTS = Math.ceil(Number(values.deliveries) / ENDPOINTS);
const IN_FLIGHT = 50;

/** Runs `post` over every webhook, IN_FLIGHT at a time; this process's CPU µs per webhook. */
async function cpuPerPost(webhooks: Webhook[], post: (w: Webhook) => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let w = webhooks[next++]; w; w = webhooks[next++]) await post(w);
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / webhooks.length;
}

async function main() {
  const sink = await startSink();
  try {
    const webhooks = webhooksFor(sink.url, EVENTS, ENDPOINTS);
    const endpointOf = new Map(webhooks.map((w) => [w.url, new URL(w.url).pathname]));
    const results: Record<'bare' | 'sender', number[]> = { bare: [], sender: [] };
    // round 0 warms both up (JIT, connections) and is not counted
    for (let round = 0; round <= ROUNDS; round++) {
      await sink.reset();
      const poster = createPoster(sink.url, IN_FLIGHT);
      const bare = await cpuPerPost(webhooks, (w) => poster.post(w));
      await poster.close();

      await sink.reset();
      const sender = createSender({ allowPrivateEndpoints: true, connectionsPerOrigin: 8 });
      const viaSender = await cpuPerPost(webhooks, async (w) => {
        const r = await sender.send({
          url: w.url,
          messageId: w.messageId,
          payload: w.payload,
          secrets: [SECRET],
          poolKey: endpointOf.get(w.url) ?? w.url,
        });
        if (r.statusCode !== 200) throw new Error(`${w.url}: ${r.statusCode ?? r.errorMessage}`);
      });
      await sender.close();
      console.error(
        `round ${round}: bare ${Math.round(bare)} µs, sender ${Math.round(viaSender)} µs CPU per request`,
      );
      if (round === 0) continue;
      results.bare.push(bare);
      results.sender.push(viaSender);
    }
    const base = median(results.bare);
    const row = (label: string, xs: number[]) => [
      label,
      `${formatInteger(median(xs))} [${formatInteger(Math.min(...xs))}–${formatInteger(Math.max(...xs))}]`,
      (median(xs) / base).toFixed(2),
    ];
    console.log(`\n### One attempt's CPU (bench/sender)\n\nMachine: ${describeMachine()}\n`);
    console.log(
      markdownTable(
        ['poster', 'µs CPU / request', '× bare'],
        [
          row('bare undici loop (the peers ceiling)', results.bare),
          row("the dispatcher's sender", results.sender),
        ],
        ['left', 'right', 'right'],
      ),
    );
    console.log(
      `\n${formatInteger(webhooks.length)} signed POSTs (${EVENTS} events × ${ENDPOINTS} endpoints), ${IN_FLIGHT} in flight, to a sink in its own process; this process's CPU; medians of ${ROUNDS} interleaved rounds [min–max].`,
    );
  } finally {
    sink.close();
  }
}

await main();
