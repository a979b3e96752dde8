import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { describe, expect, it } from 'vitest';
import { createVerifier, generateSecret, signWebhook } from '../../src/signing/index.js';

// Both libraries read the system clock, so these messages are stamped "now".
const now = () => Math.floor(Date.now() / 1000);

// Seed-shaped bodies, one with multi-byte UTF-8. Both libraries decode a Buffer body as UTF-8
// before hashing (ours hashes the bytes), so the bodies here are valid UTF-8; and svix always
// JSON-parses the body after verifying, so they are JSON.
const BODIES: Array<[string, string]> = [
  ['the spec body', '{"test": 2432232314}'],
  [
    'a seed event',
    '{"event_id":"550e8400-e29b-41d4-a716-446655440000","event_type":"THIRD PARTY CUSTOMER STATUS","version":"v1.0.0","event_timestamp":"2025-01-01T00:00:00Z","data":{"customer_id":"0201001008132685","client_customer_ref":"CUST_001","status":"APPROVED"}}',
  ],
  ['non-ASCII text', '{"name":"Zoë Ångström","city":"東京","note":"🚀 ✓ «ça»"}'],
];

// Secrets as each library's users have them: 24 bytes (the svix dashboard) and 32/64 bytes (ours).
const SECRETS = ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', generateSecret(32), generateSecret(64)];

describe.each(BODIES)('interop on %s', (_, text) => {
  const bytes = new TextEncoder().encode(text); // a plain Uint8Array, not a Buffer
  const buffer = Buffer.from(text);

  describe.each(SECRETS.map((secret) => [secret.length, secret] as const))(
    'with a secret of %i characters',
    (_, secret) => {
      it('ours → standardwebhooks and svix', () => {
        for (const body of [text, bytes]) {
          const headers = { ...signWebhook({ id: 'msg_1', timestamp: now(), body, secrets: [secret] }) };
          expect(() => new StandardWebhook(secret).verify(buffer, headers)).not.toThrow();
          expect(() => new StandardWebhook(secret).verify(text, headers)).not.toThrow();
          expect(new SvixWebhook(secret).verify(buffer, headers)).toEqual(JSON.parse(text));
        }
      });

      it('standardwebhooks and svix → ours', () => {
        const timestamp = now();
        const verify = createVerifier([secret]);
        for (const signature of [
          new StandardWebhook(secret).sign('msg_1', new Date(timestamp * 1000), buffer),
          new SvixWebhook(secret).sign('msg_1', new Date(timestamp * 1000), text),
        ]) {
          const headers = {
            'webhook-id': 'msg_1',
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signature,
          };
          expect(verify(headers, bytes)).toEqual({ ok: true, id: 'msg_1', timestamp });
          expect(verify(headers, text).ok).toBe(true);
          expect(verify(new Headers(headers), buffer).ok).toBe(true);
        }
      });
    },
  );

  it('rotation: our two-signature header verifies in both libraries with either secret', () => {
    const [a, b] = [generateSecret(), generateSecret(24)];
    const headers = { ...signWebhook({ id: 'msg_2', timestamp: now(), body: bytes, secrets: [a, b] }) };
    for (const secret of [a, b]) {
      expect(() => new StandardWebhook(secret).verify(buffer, headers)).not.toThrow();
      expect(() => new SvixWebhook(secret).verify(buffer, headers)).not.toThrow();
    }
    expect(() => new StandardWebhook(generateSecret()).verify(buffer, headers)).toThrow(
      /No matching signature/,
    );
  });

  it('rotation: their signatures joined in one header verify with ours holding both secrets', () => {
    const [a, b] = [generateSecret(), generateSecret()];
    const timestamp = now();
    const date = new Date(timestamp * 1000);
    const signature = [
      `v1a,${Buffer.alloc(64).toString('base64')}`,
      new StandardWebhook(a).sign('msg_3', date, text),
      new SvixWebhook(b).sign('msg_3', date, text),
    ].join(' ');
    const headers = {
      'webhook-id': 'msg_3',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signature,
    };
    expect(createVerifier([a])(headers, bytes).ok).toBe(true);
    expect(createVerifier([b])(headers, bytes).ok).toBe(true);
    expect(createVerifier([generateSecret()])(headers, bytes).ok).toBe(false);
  });

  it('svix-branded headers (svix-id, svix-timestamp, svix-signature) are not ours to read', () => {
    const secret = generateSecret();
    const timestamp = now();
    const branded = {
      'svix-id': 'msg_4',
      'svix-timestamp': String(timestamp),
      'svix-signature': new SvixWebhook(secret).sign('msg_4', new Date(timestamp * 1000), text),
    };
    expect(createVerifier([secret])(branded, text)).toMatchObject({ ok: false, code: 'missing_headers' });
  });
});

describe('where the libraries differ from us', () => {
  it('we sign bytes that are not UTF-8 as bytes; they replace them with U+FFFD first', () => {
    const secret = generateSecret();
    const body = Buffer.from([0x7b, 0xff, 0x7d]); // "{", an invalid byte, "}"
    const timestamp = now();
    const ours = signWebhook({ id: 'msg_5', timestamp, body, secrets: [secret] });
    const theirs = new StandardWebhook(secret).sign('msg_5', new Date(timestamp * 1000), body);
    expect(ours['webhook-signature']).not.toBe(theirs);
    expect(createVerifier([secret])({ ...ours }, body).ok).toBe(true);
    // Ours still matches theirs whenever the body is valid UTF-8, which JSON on the wire always is.
  });
});
