import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressRefusal } from '../../src/webhooks/address-policy.js';
import {
  checkEndpointUrl,
  type HostResolver,
  isPublicAddress,
  NOT_PUBLIC_PROBLEM,
} from '../../src/webhooks/url-policy.js';

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['93.184.216.34', true],
    ['2606:4700:4700::1111', true],
    ['2a00:1450:4001:81c::200e', true],
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
    ['fe80::1%eth0', false],
    ['fc00::1', false],
    ['fd12:3456::1', false],
    ['fd00:ec2::254', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:8.8.8.8', true],
    ['64:ff9b::a00:1', false],
    ['64:ff9b::808:808', true],
    // IPv4-compatible (::/96): the bypass of issue 11, in both spellings
    ['::127.0.0.1', false],
    ['::7f00:1', false],
    ['::a9fe:a9fe', false],
    ['::8.8.8.8', false],
    ['2002:808:808::1', false],
    ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', false],
    ['2001:db8::1', false],
    ['3fff::1', false],
    ['4000::1', false],
    ['0x7f.1', false],
    ['not an ip', false],
  ])('%s → %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

/** One IPv4 range of the IANA special-purpose registry (plus multicast and class E), as a test oracle. */
const SPECIAL_IPV4: ReadonlyArray<readonly [string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrierGradeNat'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'linkLocal'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'ietfProtocolAssignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.31.196.0', 24, 'as112'],
  ['192.52.193.0', 24, 'amt'],
  ['192.88.99.0', 24, '6to4Relay'],
  ['192.168.0.0', 16, 'private'],
  ['192.175.48.0', 24, 'as112'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'], // and broadcast at its top
];

const toInt = (dotted: string) => dotted.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
const dotted = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join('.');
const hex = (n: number) => n.toString(16);
const high = (n: number) => n >>> 16;
const low = (n: number) => n & 0xffff;

/** An IPv4 address (as a 32-bit number) inside one of the special ranges, with its range's reason. */
const specialIPv4 = fc
  .constantFrom(...SPECIAL_IPV4)
  .chain(([base, bits, reason]) =>
    fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((offset) => ({ n: toInt(base) + offset, reason })),
  );

/** Every IPv6 form that carries an IPv4 address, in hex and (where it has one) dotted spelling. */
const embeddings = (n: number): Record<string, string[]> => {
  const v4 = dotted(n);
  const h = `${hex(high(n))}:${hex(low(n))}`;
  const xored = `${hex(~high(n) & 0xffff)}:${hex(~low(n) & 0xffff)}`;
  return {
    mapped: [`::ffff:${v4}`, `::ffff:${h}`, `0:0:0:0:0:ffff:${v4}`],
    compatible: [`::${v4}`, `::${h}`],
    nat64: [`64:ff9b::${v4}`, `64:ff9b::${h}`],
    nat64LocalUse: [`64:ff9b:1::${v4}`, `64:ff9b:1:ab::${h}`],
    translated: [`::ffff:0:${v4}`],
    sixToFour: [`2002:${h}::1`, `2002:${h}:1234:5678:9abc:def0:1234`],
    teredoClient: [`2001:0:4136:e378:8000:63bf:${xored}`],
    teredoServer: [`2001:0:${h}:8000:63bf:f7f7:f7f7`], // client 8.8.8.8
  };
};

describe('the address rule (property tests)', () => {
  it('refuses every address of every special IPv4 range, with its reason', () => {
    fc.assert(
      fc.property(specialIPv4, ({ n, reason }) => {
        const expected = n === 0xffffffff ? 'broadcast' : reason;
        expect(addressRefusal(dotted(n))).toBe(expected);
      }),
    );
  });

  it('refuses every IPv6 form embedding a refused IPv4 address, for what that address is', () => {
    fc.assert(
      fc.property(specialIPv4, ({ n }) => {
        const reason = addressRefusal(dotted(n));
        for (const [form, spellings] of Object.entries(embeddings(n))) {
          for (const address of spellings) {
            // :: and ::1 are themselves (unspecified, loopback), not compatible forms of 0.0.0.0/0.0.0.1
            const expected =
              form === 'compatible' && n <= 1 ? (n === 0 ? 'unspecified' : 'loopback') : reason;
            expect(addressRefusal(address), `${form} ${address}`).toBe(expected);
          }
        }
      }),
    );
  });

  it('lets a public IPv4 address through only in the spellings that reach it (mapped, NAT64)', () => {
    const publicIPv4 = fc
      .integer({ min: 0, max: 0xffffffff })
      .filter((n) => addressRefusal(dotted(n)) === null);
    fc.assert(
      fc.property(publicIPv4, (n) => {
        const forms = embeddings(n);
        for (const address of [...(forms.mapped ?? []), ...(forms.nat64 ?? [])])
          expect(addressRefusal(address), address).toBeNull();
        const refused: Record<string, string> = {
          compatible: 'ipv4Compatible',
          nat64LocalUse: 'nat64LocalUse',
          translated: 'ipv4Translated',
          sixToFour: '6to4',
        };
        for (const [form, reason] of Object.entries(refused)) {
          for (const address of forms[form] ?? []) expect(addressRefusal(address), address).toBe(reason);
        }
      }),
    );
  });

  it('refuses every IPv6 address outside 2000::/3 that is not an IPv4 spelling', () => {
    const group = fc.integer({ min: 0, max: 0xffff });
    const outside = fc
      .tuple(
        fc.integer({ min: 0, max: 0xffff }).filter((g) => g < 0x2000 || g >= 0x4000),
        fc.array(group, { minLength: 7, maxLength: 7 }),
      )
      .map(([first, rest]) => [first, ...rest].map(hex).join(':'))
      .filter((a) => !/^0:0:0:0:0:ffff:/.test(a) && !/^64:ff9b:0:0:0:0:/.test(a));
    fc.assert(
      fc.property(outside, (address) => {
        expect(addressRefusal(address)).not.toBeNull();
      }),
    );
  });

  it('reads every WHATWG spelling of an IPv4 literal as the address it is', async () => {
    const resolve: HostResolver = async () => Promise.reject(new Error('a literal must not be resolved'));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 0xffffffff }), async (n) => {
        const allowed = addressRefusal(dotted(n)) === null;
        const octets = dotted(n).split('.').map(Number);
        const spellings = [
          dotted(n),
          `${dotted(n)}.`, // trailing dot
          String(n), // decimal
          `0x${hex(n)}`, // hex
          `0${n.toString(8)}`, // octal
          octets.map((o) => `0${o.toString(8)}`).join('.'), // octal per octet
          `${octets[0]}.${(n & 0xffffff) >>> 0}`, // short form a.b
          `0x${hex(octets[0] ?? 0)}.${octets[1]}.${(n & 0xffff) >>> 0}`, // short form a.b.c, mixed
        ];
        for (const host of spellings) {
          const check = await checkEndpointUrl(`http://${host}/hook`, { allowPrivate: false, resolve });
          expect(check.ok, host).toBe(allowed);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('checkEndpointUrl', () => {
  const resolve: HostResolver = async (host) => {
    if (host === 'public.example') return ['93.184.216.34', '2606:2800:220:1::'];
    if (host === 'rebind.example') return ['93.184.216.34', '127.0.0.1'];
    if (host === 'internal.example') return ['10.20.30.40'];
    throw new Error('ENOTFOUND');
  };
  const strict = { allowPrivate: false, resolve };

  it('accepts http(s) URLs whose every address is public', async () => {
    expect(await checkEndpointUrl('https://public.example/hooks?x=1', strict)).toEqual({
      ok: true,
      url: 'https://public.example/hooks?x=1',
    });
    expect((await checkEndpointUrl('http://8.8.8.8:8080/', strict)).ok).toBe(true);
    expect((await checkEndpointUrl('http://[2606:4700:4700::1111]/', strict)).ok).toBe(true);
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
    'http://127.0.0.1./',
    'http://%31%32%37.0.0.1/',
    'http://１２７.０.０.１/',
    'http://[::ffff:7f00:1]/',
    'http://[::127.0.0.1]/',
    'http://[::a9fe:a9fe]/',
    'http://169.254.169.254/latest/meta-data',
    'http://[fd00:ec2::254]/latest/meta-data',
    '/relative/path',
    `https://public.example/${'a'.repeat(2048)}`,
  ])('refuses %s', async (url) => {
    const result = await checkEndpointUrl(url, strict);
    expect(result.ok).toBe(false);
  });

  it('never says what a name resolves to, nor whether it resolves at all', async () => {
    const internal = await checkEndpointUrl('https://internal.example/', strict);
    const unknown = await checkEndpointUrl('https://unknown.example/', strict);
    expect(internal).toEqual({ ok: false, problem: NOT_PUBLIC_PROBLEM });
    expect(unknown).toEqual(internal);
    expect(NOT_PUBLIC_PROBLEM).not.toMatch(/\d+\.\d+\.\d+\.\d+|10\.20/);
  });

  it('allows loopback and private hosts without resolving when private endpoints are allowed', async () => {
    const dev = { allowPrivate: true, resolve: async () => Promise.reject(new Error('must not resolve')) };
    expect((await checkEndpointUrl('http://localhost:4000/hooks', dev)).ok).toBe(true);
    expect((await checkEndpointUrl('http://10.0.0.1/hooks', dev)).ok).toBe(true);
    expect((await checkEndpointUrl('ftp://localhost/', dev)).ok).toBe(false);
  });
});
