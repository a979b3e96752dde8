import { describe, expect, it } from 'vitest';
import { generateSecret, parseSecret, SigningError } from '../../src/signing/index.js';

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof SigningError) return error.code;
    throw error;
  }
  return undefined;
}

describe('generateSecret', () => {
  it('makes whsec_ + base64 of 32 random bytes by default', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(parseSecret(secret)).toHaveLength(32);
    expect(generateSecret()).not.toBe(secret);
  });

  it.each([24, 33, 64])('makes %i-byte secrets that parse back', (bytes) => {
    expect(parseSecret(generateSecret(bytes))).toHaveLength(bytes);
  });

  it.each([0, 23, 65, 32.5, Number.NaN])('refuses a length of %s', (bytes) => {
    expect(codeOf(() => generateSecret(bytes))).toBe('invalid_secret_length');
  });
});

describe('parseSecret', () => {
  it("accepts the spec's 24-byte test secret, as made by the svix and standardwebhooks tools", () => {
    expect(parseSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toEqual(
      Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'),
    );
  });

  it('accepts a secret whose padding was lost in a copy', () => {
    const secret = generateSecret(32);
    expect(parseSecret(secret.replace(/=+$/, ''))).toEqual(parseSecret(secret));
  });

  it.each([
    ['no prefix', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['another prefix', 'wh_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['empty', ''],
    ['prefix only', 'whsec_'],
    ['base64url alphabet', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_'],
    ['a space inside', 'whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw'],
    ['a trailing newline', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n'],
    ['padding in the middle', 'whsec_MfKQ9r8G=KYqrTwjUPD8ILPZIo2LaLaSw'],
    ['non-canonical trailing bits', `whsec_${'A'.repeat(42)}B=`],
    ['an impossible length', `whsec_${'A'.repeat(41)}`],
    ['a 25-byte key padded one "=" short', `whsec_${'A'.repeat(34)}=`],
    ['a short key padded one "=" short', 'whsec_/A='],
  ])('refuses %s as invalid_secret', (_, secret) => {
    expect(codeOf(() => parseSecret(secret))).toBe('invalid_secret');
  });

  it.each([16, 23, 65, 128])('refuses a %i-byte key as invalid_secret_length', (bytes) => {
    const secret = `whsec_${Buffer.alloc(bytes, 7).toString('base64')}`;
    expect(codeOf(() => parseSecret(secret))).toBe('invalid_secret_length');
  });

  it('never puts the secret in the error message', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!';
    try {
      parseSecret(secret);
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain('MfKQ9r8GKYqrTwjUPD8');
    }
  });
});
