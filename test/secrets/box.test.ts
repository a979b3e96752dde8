/**
 * The box that encrypts endpoint secrets at rest, on its own: the stored format, authentication (a
 * value altered anywhere, or moved to another row, is refused), keys and key ids, rotation reading.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidSecretsKeyError,
  Keyring,
  keyBytes,
  openAnswer,
  parseKey,
  SecretBox,
  SecretDecryptionError,
  SecretsKeyMissingError,
  sealAnswer,
  sealedKeyId,
  secretContext,
} from '../../src/secrets/index.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const keyText = () => randomBytes(32).toString('base64');
const boxWith = (...texts: string[]) => {
  const [current, ...old] = texts.map((t) => parseKey(t));
  if (!current) throw new Error('a key is needed');
  return new SecretBox(new Keyring(current, old));
};
const here = secretContext.endpoint('wh_01JAAAAAAAAAAAAAAAAAAAAAAA');
const there = secretContext.endpoint('wh_01JBBBBBBBBBBBBBBBBBBBBBBB');

/** The value with one character of its part `index` (1 key id, 2 nonce, 3 ciphertext) changed. */
function alter(sealed: string, index: number, at = 0): string {
  const parts = sealed.split(':');
  const part = parts[index] ?? '';
  const swapped = part[at] === 'A' ? 'B' : 'A';
  parts[index] = `${part.slice(0, at)}${swapped}${part.slice(at + 1)}`;
  return parts.join(':');
}

describe('SecretBox', () => {
  it('stores v1:<key id>:<nonce>:<ciphertext> without the secret, and opens it', () => {
    const box = boxWith(keyText());
    const sealed = box.seal(SECRET, here);
    expect(sealed).toMatch(/^v1:[\w-]{8}:[\w-]{16}:[\w-]+$/);
    expect(sealed).not.toContain(SECRET);
    expect(sealed).not.toContain('whsec_');
    expect(sealedKeyId(sealed)).toBe(box.keyring?.current.id);
    expect(box.open(sealed, here)).toBe(SECRET);
    // a fresh nonce each time: the same secret never gives the same text
    expect(box.seal(SECRET, here)).not.toBe(sealed);
  });

  it('refuses a value altered anywhere: ciphertext, tag, nonce, key id', () => {
    const box = boxWith(keyText());
    const sealed = box.seal(SECRET, here);
    const body = sealed.split(':')[3] ?? '';
    for (const tampered of [
      alter(sealed, 3, 0), // ciphertext
      alter(sealed, 3, body.length - 1), // tag
      alter(sealed, 2, 3), // nonce
      `${sealed.split(':').slice(0, 3).join(':')}:${body.slice(0, 10)}`, // truncated
    ]) {
      expect(() => new SecretBox(box.keyring).open(tampered, here), tampered).toThrow(SecretDecryptionError);
    }
    expect(() => box.open(alter(sealed, 1), here)).toThrow(/not configured/);
    expect(() => box.open('v1:garbage', here)).toThrow(/malformed/);
    expect(() => box.open(SECRET, here)).toThrow(/not encrypted/);
  });

  it('refuses a value moved to another row, even after it was opened in its own', () => {
    const box = boxWith(keyText());
    const sealed = box.seal(SECRET, here);
    expect(box.open(sealed, here)).toBe(SECRET); // now in the cache, for `here` only
    expect(() => box.open(sealed, there)).toThrow(/failed authentication/);
  });

  it('opens with any configured key, seals with the current one, and names a missing key', () => {
    const [oldKey, newKey] = [keyText(), keyText()];
    const sealedOld = boxWith(oldKey).seal(SECRET, here);
    const rotating = boxWith(newKey, oldKey);
    expect(rotating.open(sealedOld, here)).toBe(SECRET);
    expect(sealedKeyId(rotating.seal(SECRET, here))).toBe(parseKey(newKey).id);

    const wrong = boxWith(newKey);
    expect(() => wrong.open(sealedOld, here)).toThrow(SecretDecryptionError);
    expect(() => wrong.open(sealedOld, here)).toThrow(parseKey(oldKey).id);
  });

  it('without keys, throws the moment a secret is written or read', () => {
    const box = new SecretBox(undefined, 'set SECRETS_KEY');
    expect(() => box.seal(SECRET, here)).toThrow(SecretsKeyMissingError);
    expect(() => box.open('v1:AAAAAAAA:AAAAAAAAAAAAAAAA:AAAA', here)).toThrow(/set SECRETS_KEY/);
  });

  it('seals a stored answer bound to its partner and key, and reads a plaintext one from before', () => {
    const box = boxWith(keyText());
    const answer = { requestHash: 'h', statusCode: 201, body: JSON.stringify({ secret: SECRET }) };
    const stored = sealAnswer(box, '0201001008132685', 'key-1', answer);
    expect(stored.body).not.toContain(SECRET);
    expect(openAnswer(box, '0201001008132685', 'key-1', stored)).toEqual(answer);
    expect(() => openAnswer(box, '0201001008132685', 'key-2', stored)).toThrow(SecretDecryptionError);
    expect(openAnswer(box, '0201001008132685', 'key-1', answer)).toEqual(answer);
  });
});

describe('keys', () => {
  it('reads 32 bytes as base64 or hex, the same key either way, and refuses anything else', () => {
    const bytes = randomBytes(32);
    expect(keyBytes(bytes.toString('base64'))).toEqual(bytes);
    expect(keyBytes(bytes.toString('base64url'))).toEqual(bytes);
    expect(keyBytes(bytes.toString('hex'))).toEqual(bytes);
    expect(parseKey(bytes.toString('hex')).id).toBe(parseKey(bytes.toString('base64')).id);
    for (const bad of ['', 'short', randomBytes(16).toString('base64'), randomBytes(33).toString('hex')]) {
      expect(() => keyBytes(bad, 'SECRETS_KEY'), bad).toThrow(InvalidSecretsKeyError);
    }
    expect(() => keyBytes('nope', 'SECRETS_KEY')).toThrow(/^SECRETS_KEY must be 32 bytes/);
  });

  it('derives a key id that names the key and differs between keys', () => {
    const text = keyText();
    expect(parseKey(text).id).toMatch(/^[\w-]{8}$/);
    expect(parseKey(text).id).toBe(parseKey(text).id);
    expect(parseKey(keyText()).id).not.toBe(parseKey(text).id);
  });
});
