import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  createVerifier,
  generateSecret,
  type HeaderSource,
  SigningError,
  signWebhook,
  type VerifyFailure,
  type VerifyResult,
  verifyWebhook,
} from '../../src/signing/index.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const NOW = 1614265330;
const BODY = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const HEADERS = { 'webhook-id': ID, 'webhook-timestamp': String(NOW), 'webhook-signature': SIGNATURE };

const verify = createVerifier([SECRET], { now: NOW });

function failureOf(result: VerifyResult): VerifyFailure | undefined {
  return result.ok ? undefined : result.code;
}

describe('verifyWebhook', () => {
  it("accepts the spec's test vector", () => {
    expect(verifyWebhook(HEADERS, BODY, [SECRET], { now: NOW })).toEqual({
      ok: true,
      id: ID,
      timestamp: NOW,
    });
    expect(verify(HEADERS, Buffer.from(BODY))).toEqual({ ok: true, id: ID, timestamp: NOW });
  });

  it('accepts a Fetch Headers object and a record with any letter case', () => {
    expect(verify(new Headers(HEADERS), BODY).ok).toBe(true);
    const shouting = { 'Webhook-Id': ID, 'WEBHOOK-TIMESTAMP': String(NOW), 'webhook-Signature': SIGNATURE };
    expect(verify(shouting, BODY).ok).toBe(true);
  });

  describe('missing_headers', () => {
    it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const)('without %s', (name) => {
      const headers: Record<string, string | undefined> = { ...HEADERS, [name]: undefined };
      const result = verify(headers, BODY);
      expect(failureOf(result)).toBe('missing_headers');
      expect(result.ok || result.message).toContain(name);
      expect(failureOf(verify({ ...HEADERS, [name]: '' }, BODY))).toBe('missing_headers');
      expect(failureOf(verify({ ...HEADERS, [name]: [] }, BODY))).toBe('missing_headers');
    });

    it('lists every missing header', () => {
      const result = verify({}, BODY);
      expect(result).toMatchObject({ ok: false, code: 'missing_headers' });
      expect(result.ok || result.message).toMatch(/webhook-id, webhook-timestamp, webhook-signature/);
    });

    it.each([null, undefined, 'webhook-id', 42])('for headers that are %s', (headers) => {
      expect(failureOf(verify(headers as unknown as HeaderSource, BODY))).toBe('missing_headers');
    });
  });

  describe('invalid_id', () => {
    it.each([['evt.1'], ['evt 1'], ['é'], ['a'.repeat(257)]])('for %j', (id) => {
      expect(failureOf(verify({ ...HEADERS, 'webhook-id': id }, BODY))).toBe('invalid_id');
    });

    it('for several different ids, but not for one id repeated', () => {
      expect(failureOf(verify({ ...HEADERS, 'webhook-id': [ID, 'other'] }, BODY))).toBe('invalid_id');
      expect(verify({ ...HEADERS, 'webhook-id': [ID, ID] }, BODY).ok).toBe(true);
    });
  });

  describe('invalid_timestamp', () => {
    it.each([
      '-1614265330',
      '+1614265330',
      '1614265330.0',
      '1.6e9',
      ' 1614265330',
      '1614265330 ',
      '0x60389d72',
      '１６１４２６５３３０',
      '1'.repeat(16),
      'now',
    ])('for %j', (timestamp) => {
      expect(failureOf(verify({ ...HEADERS, 'webhook-timestamp': timestamp }, BODY))).toBe(
        'invalid_timestamp',
      );
    });

    it('for several different timestamps', () => {
      const headers = { ...HEADERS, 'webhook-timestamp': [String(NOW), String(NOW + 1)] };
      expect(failureOf(verify(headers, BODY))).toBe('invalid_timestamp');
    });
  });

  describe('tolerance, 300 s both ways by default', () => {
    const signedAt = (timestamp: number) =>
      signWebhook({ id: ID, timestamp, body: BODY, secrets: [SECRET] }) as unknown as HeaderSource;

    it('accepts exactly 300 s in the past and in the future', () => {
      expect(verify(signedAt(NOW - 300), BODY).ok).toBe(true);
      expect(verify(signedAt(NOW + 300), BODY).ok).toBe(true);
    });

    it('refuses 301 s in the past as too old and 301 s in the future as too new', () => {
      expect(failureOf(verify(signedAt(NOW - 301), BODY))).toBe('timestamp_too_old');
      expect(failureOf(verify(signedAt(NOW + 301), BODY))).toBe('timestamp_too_new');
    });

    it('checks the clock before the signature, so stale replays are named as such', () => {
      const replay = { ...HEADERS, 'webhook-signature': 'v1,garbage' };
      expect(failureOf(createVerifier([SECRET], { now: NOW + 3600 })(replay, BODY))).toBe(
        'timestamp_too_old',
      );
    });

    it('honours a custom tolerance', () => {
      const strict = createVerifier([SECRET], { now: NOW, toleranceSeconds: 10 });
      expect(strict(signedAt(NOW - 10), BODY).ok).toBe(true);
      expect(failureOf(strict(signedAt(NOW - 11), BODY))).toBe('timestamp_too_old');
    });

    it('uses the system clock when no time is given', () => {
      const now = Math.floor(Date.now() / 1000);
      expect(createVerifier([SECRET])(signedAt(now), BODY).ok).toBe(true);
      expect(failureOf(createVerifier([SECRET])(signedAt(now - 1000), BODY))).toBe('timestamp_too_old');
    });
  });

  describe('no_valid_signature', () => {
    it.each([
      ['a tampered body', HEADERS, '{"test": 2432232315}'],
      ['a body with a trailing newline', HEADERS, `${BODY}\n`],
      ['another id', { ...HEADERS, 'webhook-id': 'msg_other' }, BODY],
      ['another timestamp', { ...HEADERS, 'webhook-timestamp': String(NOW + 1) }, BODY],
      [
        'a v1a entry with the right value',
        { ...HEADERS, 'webhook-signature': SIGNATURE.replace('v1,', 'v1a,') },
        BODY,
      ],
      ['garbage', { ...HEADERS, 'webhook-signature': 'v1,!!!' }, BODY],
      ['a signature without padding', { ...HEADERS, 'webhook-signature': SIGNATURE.slice(0, -1) }, BODY],
      ['a bare signature', { ...HEADERS, 'webhook-signature': SIGNATURE.slice(3) }, BODY],
      ['a non-ASCII look-alike', { ...HEADERS, 'webhook-signature': `${SIGNATURE.slice(0, -2)}Ｅ=` }, BODY],
    ])('for %s', (_, headers, body) => {
      expect(failureOf(verify(headers, body))).toBe('no_valid_signature');
    });

    it('for a message signed with another secret', () => {
      const headers = signWebhook({ id: ID, timestamp: NOW, body: BODY, secrets: [generateSecret()] });
      expect(failureOf(verify({ ...headers }, BODY))).toBe('no_valid_signature');
    });

    it('for a body that was already parsed, with a message that says so', () => {
      const result = verify(HEADERS, JSON.parse(BODY) as unknown as string);
      expect(result).toMatchObject({ ok: false, code: 'no_valid_signature' });
      expect(result.ok || result.message).toMatch(/raw request bytes/);
    });
  });

  describe('rotation', () => {
    const oldSecret = SECRET;
    const newSecret = generateSecret();

    it('accepts a message signed with old and new secrets by a receiver holding either', () => {
      const headers = {
        ...signWebhook({ id: ID, timestamp: NOW, body: BODY, secrets: [newSecret, oldSecret] }),
      };
      expect(createVerifier([oldSecret], { now: NOW })(headers, BODY).ok).toBe(true);
      expect(createVerifier([newSecret], { now: NOW })(headers, BODY).ok).toBe(true);
      expect(createVerifier([generateSecret()], { now: NOW })(headers, BODY).ok).toBe(false);
    });

    it('accepts a message signed with either secret by a receiver holding both', () => {
      const both = createVerifier([newSecret, oldSecret], { now: NOW });
      for (const secret of [oldSecret, newSecret]) {
        const headers = { ...signWebhook({ id: ID, timestamp: NOW, body: BODY, secrets: [secret] }) };
        expect(both(headers, BODY).ok).toBe(true);
      }
    });

    it('finds the valid entry among unknown schemes and wrong signatures', () => {
      const wrong = `v1,${Buffer.alloc(32).toString('base64')}`;
      const list = `v1a,${SIGNATURE.slice(3)} v2,xyz ${wrong}  ${SIGNATURE}`;
      expect(verify({ ...HEADERS, 'webhook-signature': list }, BODY).ok).toBe(true);
    });

    it('joins several signature header lines, as a record array or a Fetch Headers', () => {
      const wrong = `v1,${Buffer.alloc(32).toString('base64')}`;
      expect(verify({ ...HEADERS, 'webhook-signature': [wrong, SIGNATURE] }, BODY).ok).toBe(true);
      const fetchHeaders = new Headers(HEADERS);
      fetchHeaders.set('webhook-signature', wrong);
      fetchHeaders.append('webhook-signature', SIGNATURE);
      expect(fetchHeaders.get('webhook-signature')).toBe(`${wrong}, ${SIGNATURE}`);
      expect(verify(fetchHeaders, BODY).ok).toBe(true);
    });
  });

  it("reads repeated signature lines as Node's http server delivers them", async () => {
    const server = createServer((req, res) => {
      res.end(JSON.stringify(req.headers));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const req = request({ port, host: '127.0.0.1', method: 'POST' });
      req.setHeader('webhook-id', ID);
      req.setHeader('webhook-timestamp', String(NOW));
      req.setHeader('webhook-signature', [`v1,${Buffer.alloc(32).toString('base64')}`, SIGNATURE]);
      req.end(BODY);
      const [res] = (await once(req, 'response')) as [NodeJS.ReadableStream];
      let text = '';
      for await (const chunk of res) text += String(chunk);
      const received = JSON.parse(text) as IncomingHttpHeaders;
      expect(received['webhook-signature']).toContain(', ');
      expect(verify(received, BODY).ok).toBe(true);
    } finally {
      server.close();
    }
  });
});

describe('createVerifier', () => {
  it.each([
    [[], {}, 'no_secrets'],
    [['whsec_nope'], {}, 'invalid_secret_length'],
    [['nope'], {}, 'invalid_secret'],
    [[SECRET], { toleranceSeconds: -1 }, 'invalid_options'],
    [[SECRET], { toleranceSeconds: Number.NaN }, 'invalid_options'],
    [[SECRET], { now: Number.POSITIVE_INFINITY }, 'invalid_options'],
  ])('refuses %j with %j at creation', (secrets, options, code) => {
    expect(() => createVerifier(secrets, options)).toThrow(SigningError);
    try {
      createVerifier(secrets, options);
    } catch (error) {
      expect((error as SigningError).code).toBe(code);
    }
  });

  it('turns a hostile headers object into a failure, not an exception', () => {
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
    expect(failureOf(verify(hostile, BODY))).toBe('missing_headers');
  });
});
