import { describe, expect, it } from 'vitest';
import { type SignInput, SigningError, signWebhook } from '../../src/signing/index.js';

// The Standard Webhooks spec's published test vector.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const base: SignInput = {
  id: VECTOR.id,
  timestamp: VECTOR.timestamp,
  body: VECTOR.body,
  secrets: [VECTOR.secret],
};

function codeOf(input: SignInput): string | undefined {
  try {
    signWebhook(input);
  } catch (error) {
    if (error instanceof SigningError) return error.code;
    throw error;
  }
  return undefined;
}

describe('signWebhook', () => {
  it("reproduces the spec's test vector", () => {
    expect(signWebhook(base)).toEqual({
      'webhook-id': VECTOR.id,
      'webhook-timestamp': '1614265330',
      'webhook-signature': VECTOR.signature,
    });
  });

  it('signs bytes and their UTF-8 text identically', () => {
    const text = '{"name":"Zoë 🚀"}';
    const fromText = signWebhook({ ...base, body: text });
    expect(signWebhook({ ...base, body: Buffer.from(text) })).toEqual(fromText);
    expect(signWebhook({ ...base, body: new TextEncoder().encode(text) })).toEqual(fromText);
  });

  it('signs the raw bytes even when they are not valid UTF-8', () => {
    const a = signWebhook({ ...base, body: Uint8Array.of(0xff, 0xfe) });
    const b = signWebhook({ ...base, body: Uint8Array.of(0xff, 0xfd) });
    // Decoding to text would turn both into U+FFFD replacement characters and sign them alike.
    expect(a['webhook-signature']).not.toBe(b['webhook-signature']);
  });

  it('gives one signature per secret, in order, separated by spaces', () => {
    const other = 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const headers = signWebhook({ ...base, secrets: [other, VECTOR.secret] });
    const entries = headers['webhook-signature'].split(' ');
    expect(entries).toHaveLength(2);
    expect(entries[1]).toBe(VECTOR.signature);
    expect(entries[0]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it.each([
    ['an empty id', { id: '' }, 'invalid_id'],
    ['an id with a dot', { id: 'evt.1' }, 'invalid_id'],
    ['an id with a space', { id: 'evt 1' }, 'invalid_id'],
    ['an id with a newline', { id: 'evt\r\nx-injected: 1' }, 'invalid_id'],
    ['a non-ASCII id', { id: 'évt' }, 'invalid_id'],
    ['an id over 256 characters', { id: 'a'.repeat(257) }, 'invalid_id'],
    ['a fractional timestamp', { timestamp: 1614265330.5 }, 'invalid_timestamp'],
    ['a negative timestamp', { timestamp: -1 }, 'invalid_timestamp'],
    ['a NaN timestamp', { timestamp: Number.NaN }, 'invalid_timestamp'],
    ['an unsafe integer timestamp', { timestamp: 2 ** 60 }, 'invalid_timestamp'],
    ['no secrets', { secrets: [] }, 'no_secrets'],
    ['a malformed secret', { secrets: ['not-a-secret'] }, 'invalid_secret'],
    ['a short secret', { secrets: ['whsec_AAAA'] }, 'invalid_secret_length'],
  ] as const)('refuses %s', (_, change, code) => {
    expect(codeOf({ ...base, ...change })).toBe(code);
  });

  it('accepts ids of 256 visible ASCII characters, such as UUIDs and msg_ ids', () => {
    expect(codeOf({ ...base, id: 'a'.repeat(256) })).toBeUndefined();
    expect(codeOf({ ...base, id: '550e8400-e29b-41d4-a716-446655440000' })).toBeUndefined();
    expect(codeOf({ ...base, id: '1' })).toBeUndefined();
  });
});
