/**
 * Verifications per second: ours against the public `standardwebhooks` and `svix` packages and a
 * bare HMAC-SHA256 (the floor: what verifying costs with no parsing or comparing at all).
 *
 *   npx tsx bench/signing.ts
 *
 * Every implementation verifies the same valid message, signed "now" (both libraries read the
 * system clock). Rounds interleave the implementations so a noisy neighbour hurts all of them
 * alike; each figure is the median over the rounds. Total run time is about 20 s.
 */
import { createHmac, createSecretKey } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import {
  createVerifier,
  generateSecret,
  parseSecret,
  signWebhook,
  verifyWebhook,
} from '../src/signing/index.js';
import { describeMachine, formatInteger, markdownTable, median } from './table.js';

const ROUNDS = 7;
const SLICE_MS = 120;
const WARMUP_MS = 150;

interface Case {
  name: string;
  /** Verifies once; returns something that depends on the result so the work is not optimised away. */
  run: () => unknown;
}

function seedEvent(padTo: number): Buffer {
  const event = {
    event_id: '550e8400-e29b-41d4-a716-446655440000',
    event_type: 'THIRD PARTY CUSTOMER STATUS',
    version: 'v1.0.0',
    event_timestamp: '2025-01-01T00:00:00Z',
    data: {
      customer_id: '0201001008132685',
      client_customer_ref: 'CUST_001',
      status: 'REJECTED',
      reasons: [
        {
          reason: 'Compliance check failed due to validation or regulatory issues',
          code: 'COMPLIANCE_CHECK_FAILED',
        },
      ],
    },
  };
  const text = JSON.stringify(event);
  if (padTo <= text.length) return Buffer.from(text);
  // Minor versions may add fields; a long one stands in for a bigger event.
  const filler = 'x'.repeat(padTo - text.length - ',"note":""'.length);
  return Buffer.from(JSON.stringify({ ...event, note: filler }));
}

function casesFor(body: Buffer): Case[] {
  const secret = generateSecret(32);
  const id = '550e8400-e29b-41d4-a716-446655440000';
  const headers = {
    ...signWebhook({ id, timestamp: Math.floor(Date.now() / 1000), body, secrets: [secret] }),
  };
  const ours = createVerifier([secret]);
  const standard = new StandardWebhook(secret);
  const svix = new SvixWebhook(secret);
  const key = parseSecret(secret);
  const keyObject = createSecretKey(key);
  const prefix = `${id}.${headers['webhook-timestamp']}.`;

  const cases: Case[] = [
    { name: 'ours: createVerifier', run: () => ours(headers, body).ok },
    {
      name: 'ours: verifyWebhook (decodes the secret per call)',
      run: () => verifyWebhook(headers, body, [secret]).ok,
    },
    // jsonParse: false so the library does what we do, verification only.
    { name: '`standardwebhooks` 1.1', run: () => standard.verify(body, headers, { jsonParse: false }) },
    // svix 1.x always JSON-parses the body after verifying; nothing turns that off.
    { name: '`svix` 1.x (verifies, then JSON-parses)', run: () => svix.verify(body, headers) },
    {
      name: 'floor: bare `createHmac` (Buffer key)',
      run: () => createHmac('sha256', key).update(prefix).update(body).digest(),
    },
    {
      name: 'floor: bare `createHmac` (KeyObject key)',
      run: () => createHmac('sha256', keyObject).update(prefix).update(body).digest(),
    },
  ];
  for (const item of cases) {
    // Every case must verify successfully, or we would be timing a rejection.
    if (item.run() === false) throw new Error(`${item.name} does not verify the bench message`);
  }
  return cases;
}

/** Operations per second over one time slice, checking the clock only every `batch` calls. */
function measure(item: Case, ms: number): number {
  let batch = 16;
  let operations = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms * 1e6);
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < batch; i++) {
      if (item.run()) sink++;
    }
    operations += batch;
    if (batch < 1024) batch *= 2;
    now = process.hrtime.bigint();
  }
  if (sink < 0) console.log(sink);
  return operations / (Number(now - start) / 1e9);
}

const bodies = [
  { label: 'seed event', body: seedEvent(0) },
  { label: '16 KiB body', body: seedEvent(16 * 1024) },
];

const started = Date.now();
const results = bodies.map(({ label, body }) => {
  const cases = casesFor(body);
  for (const item of cases) measure(item, WARMUP_MS);
  const samples = cases.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, item] of cases.entries()) {
      samples[index]?.push(measure(item, SLICE_MS));
    }
  }
  const medians = samples.map(median);
  const baseline = medians[cases.findIndex((item) => item.name.startsWith('`standardwebhooks`'))] as number;
  return { label, bytes: body.length, names: cases.map((item) => item.name), medians, baseline };
});

const first = results[0];
if (first === undefined) throw new Error('no results');
const header = ['verifier'];
for (const result of results) header.push(`${result.label} (${result.bytes} B): ops/s`, '× standardwebhooks');
const rows = first.names.map((name, index) => {
  const row = [name];
  for (const result of results) {
    const ops = result.medians[index] as number;
    row.push(formatInteger(ops), `${(ops / result.baseline).toFixed(2)}×`);
  }
  return row;
});

console.log(`Machine: ${describeMachine()}`);
console.log(`Median of ${ROUNDS} interleaved rounds of ${SLICE_MS} ms per verifier and body.\n`);
console.log(markdownTable(header, rows, ['left', 'right', 'right', 'right', 'right']));
console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
