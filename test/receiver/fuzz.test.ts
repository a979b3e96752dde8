import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtures } from '../../src/contract/index.js';
import { createMemoryInbox, createReceiver, ERROR_STATUS } from '../../src/receiver/index.js';
import { answer, recordingLogger, SECRET, signedHeaders } from './helpers.js';

// Statuses a client can cause; 500 (a bug) and 503 (our storage) are not among them.
const CLIENT_STATUSES = new Set([200, 400, 401, 405, 413, 415]);

const logger = recordingLogger();
const signed = createReceiver({ secrets: [SECRET], inbox: createMemoryInbox(), logger, maxBodyBytes: 2048 });
const unsigned = createReceiver({
  insecureSkipVerify: true,
  inbox: createMemoryInbox(),
  logger,
  maxBodyBytes: 2048,
});
afterAll(async () => {
  expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  await signed.close();
  await unsigned.close();
});

const headerName = fc.oneof(
  fc.constantFrom(
    'content-type',
    'Content-Type',
    'content-length',
    'webhook-id',
    'webhook-timestamp',
    'webhook-signature',
  ),
  fc.string({ maxLength: 20 }),
);
const headerValue = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.constantFrom('application/json', 'application/json; charset=utf-16', '-1', '1e9', 'NaN', 'v1,abc', 'v1'),
  fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
);
const headers = fc.dictionary(headerName, fc.oneof(headerValue, fc.constant(undefined)), { maxKeys: 8 });
const method = fc.oneof(fc.constantFrom('POST', 'GET', 'PUT', 'post', ''), fc.string({ maxLength: 10 }));
const body = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc.string({ maxLength: 400 }).map((s) => Buffer.from(s)),
  fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
  fc.constantFrom(fixtures.approved, fixtures.rejected, fixtures.payload).map((s) => Buffer.from(s)),
  // A valid event with one byte changed (or cut): the parser's and verifier's edge cases.
  fc
    .tuple(fc.constantFrom(fixtures.approved, fixtures.rejected), fc.nat(), fc.integer({ min: 0, max: 255 }))
    .map(([text, at, byte]) => {
      const bytes = Buffer.from(text);
      bytes[at % bytes.length] = byte;
      return bytes;
    }),
);

function assertSafe(response: { status: number; headers: Record<string, string>; body: string }) {
  expect(CLIENT_STATUSES.has(response.status), `status ${response.status}: ${response.body}`).toBe(true);
  const parsed = JSON.parse(response.body) as { error?: { code: keyof typeof ERROR_STATUS } };
  if (response.status !== 200) expect(ERROR_STATUS[parsed.error?.code ?? 'internal']).toBe(response.status);
}

describe('fuzz: nothing a client sends gives a 500 or a throw', () => {
  it('arbitrary method, headers and body', async () => {
    await fc.assert(
      fc.asyncProperty(method, headers, body, fc.boolean(), async (m, h, b, useSigned) => {
        const response = await (useSigned ? signed : unsigned).handle({ method: m, headers: h, body: b });
        assertSafe(response);
      }),
      { numRuns: 1000 },
    );
  });

  it('correctly signed arbitrary bodies (so parsing, not the signature, is what is exercised)', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.string({ minLength: 1, maxLength: 30 }), async (b, id) => {
        let h: Record<string, string>;
        try {
          h = signedHeaders(id, b);
        } catch {
          return; // ids the signer refuses (a ".", non-ASCII) cannot be sent at all
        }
        assertSafe(await signed.handle({ method: 'POST', headers: h, body: b }));
      }),
      { numRuns: 1000 },
    );
  });

  it('hostile header objects and body readers', async () => {
    const throwing = new Proxy(
      {},
      {
        get: () => {
          throw new Error('boom');
        },
        ownKeys: () => {
          throw new Error('boom');
        },
      },
    );
    const r1 = await signed.handle({
      method: 'POST',
      headers: throwing,
      body: Buffer.from(fixtures.approved),
    });
    // Unreadable headers count as absent: no content-type.
    expect(r1.status).toBe(415);
    const r2 = await signed.handle({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: async () => Promise.reject(new Error('client went away')),
    });
    expect(r2.status).toBe(400);
    expect(answer(r2.body).error.code).toBe('unreadable_body');
  });
});
