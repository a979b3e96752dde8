import { describe, expect, it } from 'vitest';
import { checkEndpointUrl, type HostResolver, isPublicAddress } from '../../src/webhooks/url-policy.js';

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['93.184.216.34', true],
    ['2606:4700:4700::1111', true],
    ['127.0.0.1', false],
    ['10.1.2.3', false],
    ['172.16.0.1', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['::1', false],
    ['::', false],
    ['fe80::1', false],
    ['fc00::1', false],
    ['fd12:3456::1', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:8.8.8.8', true],
    ['64:ff9b::a00:1', false],
    ['not an ip', false],
  ])('%s → %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('checkEndpointUrl', () => {
  const resolve: HostResolver = async (host) => {
    if (host === 'public.example') return ['93.184.216.34', '2606:2800:220:1::'];
    if (host === 'rebind.example') return ['93.184.216.34', '127.0.0.1'];
    throw new Error('ENOTFOUND');
  };
  const strict = { allowPrivate: false, resolve };

  it('accepts http(s) URLs whose every address is public', async () => {
    expect(await checkEndpointUrl('https://public.example/hooks?x=1', strict)).toEqual({
      ok: true,
      url: 'https://public.example/hooks?x=1',
    });
    expect((await checkEndpointUrl('http://8.8.8.8:8080/', strict)).ok).toBe(true);
  });

  it.each([
    'ftp://public.example/',
    'javascript:alert(1)',
    'file:///etc/passwd',
    'https://user:secret@public.example/',
    'https://public.example/#frag',
    'https://rebind.example/',
    'https://unknown.example/',
    'http://0x7f.1/',
    'http://017700000001/',
    'http://[::ffff:7f00:1]/',
    'http://169.254.169.254/latest/meta-data',
    '/relative/path',
    `https://public.example/${'a'.repeat(2048)}`,
  ])('refuses %s', async (url) => {
    const result = await checkEndpointUrl(url, strict);
    expect(result.ok).toBe(false);
  });

  it('allows loopback and private hosts without resolving when private endpoints are allowed', async () => {
    const dev = { allowPrivate: true, resolve: async () => Promise.reject(new Error('must not resolve')) };
    expect((await checkEndpointUrl('http://localhost:4000/hooks', dev)).ok).toBe(true);
    expect((await checkEndpointUrl('http://10.0.0.1/hooks', dev)).ok).toBe(true);
    expect((await checkEndpointUrl('ftp://localhost/', dev)).ok).toBe(false);
  });
});
