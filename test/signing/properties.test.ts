import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createVerifier, type HeaderSource, SigningError, signWebhook } from '../../src/signing/index.js';

// Ids the signer accepts: 1..256 visible ASCII characters other than ".".
const idArb = fc.stringMatching(/^[!-\-/-~]{1,256}$/);
const timestampArb = fc.integer({ min: 0, max: 2 ** 40 });
const secretArb = fc
  .uint8Array({ minLength: 24, maxLength: 64 })
  .map((bytes) => `whsec_${Buffer.from(bytes).toString('base64')}`);
const secretsArb = fc.array(secretArb, { minLength: 1, maxLength: 3 });
const bodyArb = fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.string({ unit: 'grapheme', maxLength: 512 }));

// Everything a message can be; verified "at" its own timestamp.
const messageArb = fc.record({ id: idArb, timestamp: timestampArb, body: bodyArb, secrets: secretsArb });

function flipBit(text: string, bit: number): string {
  const index = Math.floor(bit / 8) % text.length;
  const flipped = text.charCodeAt(index) ^ (1 << (bit % 8));
  return text.slice(0, index) + String.fromCharCode(flipped) + text.slice(index + 1);
}

describe('properties', () => {
  it('sign → verify round-trips for any bytes, id, timestamp and secrets, with any one of the secrets', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(), (message, pick) => {
        const headers = { ...signWebhook(message) };
        const one = message.secrets[pick % message.secrets.length] as string;
        for (const secrets of [message.secrets, [one]]) {
          const result = createVerifier(secrets, { now: message.timestamp })(headers, message.body);
          expect(result).toEqual({ ok: true, id: message.id, timestamp: message.timestamp });
        }
      }),
    );
  });

  it('any single-bit flip in the body fails', () => {
    fc.assert(
      fc.property(
        messageArb,
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        fc.nat(),
        (message, body, bit) => {
          const headers = { ...signWebhook({ ...message, body }) };
          const tampered = Uint8Array.from(body);
          const index = Math.floor(bit / 8) % body.length;
          tampered[index] = (tampered[index] as number) ^ (1 << (bit % 8));
          const result = createVerifier(message.secrets, { now: message.timestamp })(headers, tampered);
          expect(result).toMatchObject({ ok: false, code: 'no_valid_signature' });
        },
      ),
    );
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const)(
    'any single-bit flip in %s fails',
    (name) => {
      fc.assert(
        // One secret: with several, a flip in one signature leaves the others valid, as it should.
        fc.property(messageArb, fc.nat(), (message, bit) => {
          message.secrets = message.secrets.slice(0, 1);
          const headers: Record<string, string> = { ...signWebhook(message) };
          headers[name] = flipBit(headers[name] as string, bit);
          // A tolerance wider than any timestamp, so a flipped digit is judged by the signature.
          const verify = createVerifier(message.secrets, { now: message.timestamp, toleranceSeconds: 1e16 });
          expect(verify(headers, message.body).ok).toBe(false);
        }),
      );
    },
  );

  it('signing refuses exactly the ids verification refuses', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (id) => {
        let signed: HeaderSource | undefined;
        try {
          signed = {
            ...signWebhook({
              id,
              timestamp: 1,
              body: '',
              secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
            }),
          };
        } catch (error) {
          expect(error).toBeInstanceOf(SigningError);
        }
        const result = createVerifier(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], { now: 1 })(
          { 'webhook-id': id, 'webhook-timestamp': '1', 'webhook-signature': 'v1,x' },
          '',
        );
        const refusedId =
          !result.ok && (result.code === 'invalid_id' || (result.code === 'missing_headers' && id === ''));
        expect(refusedId).toBe(signed === undefined);
      }),
    );
  });
});

describe('fuzz: verification never throws', () => {
  const verify = createVerifier(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], { now: 1614265330 });
  const nameArb = fc.oneof(
    fc.constantFrom(
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
      'Webhook-Signature',
      'WEBHOOK-ID',
    ),
    fc.string(),
  );
  const textArb = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.constantFrom(
      '1614265330',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    ),
    fc.stringMatching(/^(v1[a-z]?,[A-Za-z0-9+/=]{0,50}[ ,]{0,2}){0,5}$/),
  );
  const valueArb = fc.oneof(
    textArb,
    fc.array(textArb, { maxLength: 4 }),
    fc.constant(undefined),
    fc.anything(),
  );

  it('for arbitrary header records and bodies', () => {
    fc.assert(
      fc.property(fc.dictionary(nameArb, valueArb), fc.oneof(bodyArb, fc.anything()), (headers, body) => {
        const result = verify(headers as HeaderSource, body as string);
        expect(result.ok).toBe(false);
        expect(typeof (result.ok || result.message)).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  it('for anything at all in place of the headers', () => {
    fc.assert(
      fc.property(fc.anything(), (headers) => {
        expect(verify(headers as HeaderSource, '').ok).toBe(false);
      }),
    );
  });

  it('for huge values', () => {
    const huge = 'v1,'.padEnd(1_000_000, 'A');
    const headers = {
      'webhook-id': huge,
      'webhook-timestamp': '9'.repeat(1_000_000),
      'webhook-signature': huge,
    };
    expect(verify(headers, '')).toMatchObject({ ok: false, code: 'invalid_id' });
    const many = Array.from({ length: 20_000 }, () => 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=').join(
      ' ',
    );
    const valid = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1614265330', 'webhook-signature': many };
    expect(verify(valid, '')).toMatchObject({ ok: false, code: 'no_valid_signature' });
  });
});
