import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWebVerifier } from '../../src/receiver/web/index.js';
import { createVerifier, type HeaderSource, SigningError, signWebhook } from '../../src/signing/index.js';

// The web entry's verifier (Web Crypto) must give exactly the node:crypto verifier's answers: same
// header, timestamp and secret rules (shared code), same HMAC, same failures and messages.

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const NOW = 1614265330;
const BODY = '{"test": 2432232314}';
const HEADERS = {
  'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  'webhook-timestamp': String(NOW),
  'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

/** Both verifiers' answers to one message. */
async function both(
  secrets: readonly string[],
  headers: HeaderSource,
  body: Uint8Array | string,
  options: { now?: number; toleranceSeconds?: number } = { now: NOW },
) {
  return {
    node: createVerifier(secrets, options)(headers, body),
    web: await createWebVerifier(secrets, options)(headers, body),
  };
}

function creationError(make: () => unknown): string | undefined {
  try {
    make();
    return undefined;
  } catch (error) {
    return error instanceof SigningError ? `${error.code}: ${error.message}` : String(error);
  }
}

describe('createWebVerifier answers as createVerifier does', () => {
  it("accepts the spec's test vector, as text, as bytes and from a Fetch Headers", async () => {
    for (const [headers, body] of [
      [HEADERS, BODY],
      [HEADERS, new TextEncoder().encode(BODY)],
      [new Headers(HEADERS), BODY],
    ] as const) {
      const { node, web } = await both([SECRET], headers, body);
      expect(web).toEqual({ ok: true, id: HEADERS['webhook-id'], timestamp: NOW });
      expect(web).toEqual(node);
    }
  });

  it.each<[string, HeaderSource, unknown, { now?: number; toleranceSeconds?: number }?]>([
    ['no headers', {}, BODY],
    ['an empty id', { ...HEADERS, 'webhook-id': '' }, BODY],
    ['an id with a dot', { ...HEADERS, 'webhook-id': 'a.b' }, BODY],
    ['two different ids', { ...HEADERS, 'webhook-id': ['a', 'b'] }, BODY],
    ['a timestamp that is not digits', { ...HEADERS, 'webhook-timestamp': '1e9' }, BODY],
    ['an old timestamp', HEADERS, BODY, { now: NOW + 301 }],
    ['a timestamp from the future', HEADERS, BODY, { now: NOW - 301 }],
    ['a wider tolerance', HEADERS, BODY, { now: NOW + 301, toleranceSeconds: 400 }],
    ['an altered body', HEADERS, `${BODY} `],
    ['a parsed body', HEADERS, JSON.parse(BODY)],
    ['no v1 signature', { ...HEADERS, 'webhook-signature': 'v1a,abc' }, BODY],
    [
      'a signature with a non-ASCII character',
      { ...HEADERS, 'webhook-signature': `v1,${'é'.repeat(44)}` },
      BODY,
    ],
    [
      'the right signature among others',
      { ...HEADERS, 'webhook-signature': `v1,${'A'.repeat(44)} ${HEADERS['webhook-signature']}` },
      BODY,
    ],
    [
      'signature lines joined by a Fetch Headers',
      new Headers([
        ['webhook-signature', `v1,${'A'.repeat(44)}`],
        ['webhook-signature', HEADERS['webhook-signature']],
        ['webhook-id', HEADERS['webhook-id']],
        ['webhook-timestamp', String(NOW)],
      ]),
      BODY,
    ],
  ])('%s', async (_name, headers, body, options) => {
    const { node, web } = await both([SECRET], headers, body as string, options);
    expect(web).toEqual(node);
  });

  it('reads hostile header objects as unreadable, without throwing', async () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
        ownKeys() {
          throw new Error('boom');
        },
      },
    );
    const { node, web } = await both([SECRET], hostile, BODY);
    expect(web).toEqual(node);
    expect(web).toMatchObject({ ok: false, code: 'missing_headers' });
  });

  it('refuses the same secrets and options at creation, with the same errors', () => {
    for (const [secrets, options] of [
      [[], {}],
      [['whsec_'], {}],
      [['nope'], {}],
      [['whsec_abc$'], {}],
      [['whsec_abcde='], {}],
      [['whsec_=='], {}],
      [[`whsec_${'A'.repeat(30)}`], {}],
      [[SECRET.slice(0, -1)], {}],
      [[`whsec_${'A'.repeat(33)}B==`], {}], // 25 bytes, a padding bit set: not canonical
      [['whsec_/A='], {}], // one "=" short: Buffer decodes it, atob does not (found by the property below)
      [[SECRET], { toleranceSeconds: -1 }],
      [[SECRET], { now: Number.NaN }],
    ] as const) {
      const node = creationError(() => createVerifier(secrets, options));
      expect(node, JSON.stringify(secrets)).toBeDefined();
      expect(creationError(() => createWebVerifier(secrets, options))).toBe(node);
    }
  });

  it('property: any message, any mutation of it, any secrets text: the same answer', async () => {
    const secretText = fc.oneof(
      fc
        .uint8Array({ minLength: 20, maxLength: 70 })
        .map((b) => `whsec_${Buffer.from(b).toString('base64')}`),
      fc.string({ maxLength: 60 }).map((s) => `whsec_${s}`),
    );
    const message = fc.record({
      id: fc.stringMatching(/^[!-\-/-~]{1,40}$/),
      timestamp: fc.integer({ min: NOW - 400, max: NOW + 400 }),
      body: fc.oneof(fc.uint8Array({ maxLength: 256 }), fc.string({ unit: 'grapheme', maxLength: 64 })),
    });
    await fc.assert(
      fc.asyncProperty(
        message,
        fc.array(secretText, { minLength: 1, maxLength: 2 }),
        fc.constantFrom('none', 'id', 'timestamp', 'signature', 'body'),
        fc.string({ maxLength: 50 }),
        async ({ id, timestamp, body }, secrets, mutate, junk) => {
          const creation = creationError(() => createVerifier(secrets));
          expect(creationError(() => createWebVerifier(secrets))).toBe(creation);
          if (creation !== undefined) return;
          const headers: Record<string, string> = { ...signWebhook({ id, timestamp, body, secrets }) };
          let sent: Uint8Array | string = body;
          if (mutate === 'body')
            sent = typeof body === 'string' ? `${body}${junk}x` : Uint8Array.of(...body, 1);
          else if (mutate !== 'none') headers[`webhook-${mutate}`] = junk;
          const { node, web } = await both(secrets, headers, sent);
          expect(web).toEqual(node);
        },
      ),
      { numRuns: 300 },
    );
  });
});
