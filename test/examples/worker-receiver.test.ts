import path from 'node:path';
import type { Readable } from 'node:stream';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answer, OTHER_SECRET, REASONS, SECRET, signedHeaders, signedRequest } from '../receiver/helpers.js';
import { waitFor } from '../support/wait-for.js';

// examples/worker-receiver.ts, bundled for a runtime with Web APIs only and served by workerd (the
// Cloudflare Workers runtime, through Miniflare) over real HTTP. Bundled for the `neutral` platform
// with nothing external, esbuild fails on any import it cannot put in the bundle: a `node:` import
// anywhere under tpcs/receiver/web stops the test right there.

let miniflare: Miniflare;
let url: string;
let workerOutput = '';

/** The example as one ES module with every import inlined, and what went into it. */
async function bundle() {
  const result = await build({
    entryPoints: [path.resolve('examples/worker-receiver.ts')],
    bundle: true,
    platform: 'neutral',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error('esbuild wrote nothing');
  return { code: output.text, inputs: Object.keys(result.metafile.inputs), outputs: result.metafile.outputs };
}

beforeAll(async () => {
  const { code } = await bundle();
  miniflare = new Miniflare({
    modules: true,
    script: code,
    compatibilityDate: '2025-01-01', // no nodejs_compat: Node's APIs are simply not there
    bindings: { WEBHOOK_SECRET: SECRET },
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      for (const stream of [stdout, stderr]) {
        stream.on('data', (chunk: Buffer) => {
          workerOutput += chunk.toString();
        });
      }
    },
  });
  url = new URL('/webhook', await miniflare.ready).href;
}, 60_000);

afterAll(async () => {
  await miniflare?.dispose();
});

async function post(headers: Record<string, string>, body: string | Uint8Array) {
  const response = await request(url, { method: 'POST', headers, body });
  return { status: response.statusCode, body: answer(await response.body.text()) };
}

describe('examples/worker-receiver.ts in workerd (tpcs/receiver/web)', () => {
  it('bundles with no import left and no Node module in it', async () => {
    const { inputs, outputs } = await bundle();
    expect(inputs.filter((input) => input.startsWith('node:'))).toEqual([]);
    expect(Object.values(outputs).flatMap((output) => output.imports)).toEqual([]);
    expect(inputs).toContain('src/receiver/web/index.ts');
  });

  it('answers 200 to a signed event and runs its handler, 200 duplicate to the same event again', async () => {
    const event = signedRequest({ status: 'REJECTED', ref: 'WORKER_1' });
    expect(await post(event.headers, event.body)).toEqual({
      status: 200,
      body: { received: true, event_id: event.eventId, outcome: 'recorded' },
    });
    const again = await post(signedHeaders(event.eventId, event.body), event.body);
    expect([again.status, again.body.outcome]).toEqual([200, 'duplicate']);
    const codes = REASONS.map((r) => r.code).join(',');
    await waitFor(() => workerOutput.includes(`rejected WORKER_1 ${codes}`), {
      what: "the worker's line for WORKER_1",
    });
    expect(workerOutput.match(/rejected WORKER_1/g)).toHaveLength(1);
  });

  it('answers 401 to an event signed with another secret, or not signed, and records neither', async () => {
    const wrong = signedRequest({ status: 'APPROVED', ref: 'WORKER_2' }, [OTHER_SECRET]);
    const refused = await post(wrong.headers, wrong.body);
    expect([refused.status, refused.body.error.code, refused.body.error.details?.reason]).toEqual([
      401,
      'invalid_signature',
      'no_valid_signature',
    ]);
    const unsigned = await post({ 'content-type': 'application/json' }, wrong.body);
    expect([unsigned.status, unsigned.body.error.details?.reason]).toEqual([401, 'missing_headers']);
    // Signed right, the same event is new: the refused copies were not recorded.
    const right = await post(signedHeaders(wrong.eventId, wrong.body), wrong.body);
    expect([right.status, right.body.outcome]).toEqual([200, 'recorded']);
  });

  it('answers 400 with every problem to a correctly signed event that breaks the contract', async () => {
    const body = JSON.stringify({ event_id: 'evt_bad', event_type: 'OTHER', data: { status: 'PENDING' } });
    const response = await post(signedHeaders('evt_bad', body), body);
    expect([response.status, response.body.error.code]).toEqual([400, 'invalid_payload']);
    expect(response.body.error.details?.problems?.map((p) => p.path)).toEqual(
      expect.arrayContaining(['$.event_type', '$.data.status', '$.event_timestamp']),
    );
  });
});
