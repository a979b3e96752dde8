/**
 * Abuse: every way of pointing a webhook back inside the platform's network (SSRF), refused when a
 * partner registers the URL (the real API, private endpoints not allowed) and again when the
 * dispatcher connects (the real sender and dispatcher, and the guarded lookup a name goes through),
 * with a real HTTP server on this host that must never see a connection. The server listens on `::`
 * (dual stack), so 127.0.0.1, ::1, ::ffff:127.0.0.1, 0.0.0.0 and :: would all reach it.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { buildConnector, Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { createGuardedLookup, LookupAll } from '../../src/webhooks/dispatcher/address-guard.js';
import { createDispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import type { AttemptResult } from '../../src/webhooks/dispatcher/outcome.js';
import { createRetryPolicy } from '../../src/webhooks/dispatcher/retry-policy.js';
import { createSender } from '../../src/webhooks/dispatcher/sender.js';
import { type HostResolver, NOT_PUBLIC_PROBLEM } from '../../src/webhooks/url-policy.js';
import { expectErrorShape, startService, type TestService } from '../http/harness.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty, SECRET } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';

const TYPE = 'THIRD PARTY CUSTOMER STATUS';

/** Hosts as a URL spells them, each pointing inside: every shape and range the issue lists. */
const INTERNAL_HOSTS: ReadonlyArray<readonly [form: string, host: string]> = [
  // IPv4 literal shapes of 127.0.0.1 (the WHATWG URL parser turns each into 127.0.0.1)
  ['dotted', '127.0.0.1'],
  ['decimal', '2130706433'],
  ['octal', '0177.0.0.1'],
  ['octal, one number', '017700000001'],
  ['hex', '0x7f000001'],
  ['hex short a.b', '0x7f.1'],
  ['short a.b', '127.1'],
  ['short a.b.c', '127.0.1'],
  ['trailing dot', '127.0.0.1.'],
  ['percent-encoded', '%31%32%37.0.0.1'],
  ['full-width digits', '１２７.０.０.１'],
  ['loopback, not .1', '127.8.9.10'],
  // IPv4 special-purpose ranges
  ['this network', '0.0.0.0'],
  ['this network, 0/8', '0.1.2.3'],
  ['this network, "0"', '0'],
  ['private 10/8', '10.0.0.1'],
  ['private 172.16/12', '172.31.255.254'],
  ['private 192.168/16', '192.168.0.1'],
  ['CGNAT 100.64/10', '100.64.0.1'],
  ['CGNAT top', '100.127.255.254'],
  ['link-local', '169.254.1.1'],
  ['metadata', '169.254.169.254'],
  ['metadata, decimal', '2852039166'],
  ['IETF protocol assignments', '192.0.0.8'],
  ['documentation TEST-NET-1', '192.0.2.1'],
  ['documentation TEST-NET-2', '198.51.100.1'],
  ['documentation TEST-NET-3', '203.0.113.1'],
  ['benchmarking 198.18/15', '198.18.0.1'],
  ['benchmarking top', '198.19.255.254'],
  ['6to4 relay anycast', '192.88.99.1'],
  ['AS112', '192.175.48.1'],
  ['multicast', '224.0.0.1'],
  ['multicast SSDP', '239.255.255.250'],
  ['reserved 240/4', '240.0.0.1'],
  ['broadcast', '255.255.255.255'],
  // IPv6
  ['IPv6 loopback', '[::1]'],
  ['IPv6 unspecified', '[::]'],
  ['mapped', '[::ffff:127.0.0.1]'],
  ['mapped, hex', '[::ffff:7f00:1]'],
  ['mapped metadata', '[::ffff:169.254.169.254]'],
  ['mapped, long form', '[0:0:0:0:0:ffff:10.0.0.1]'],
  ['compatible (issue 11)', '[::127.0.0.1]'],
  ['compatible, hex', '[::7f00:1]'],
  ['compatible metadata (issue 11)', '[::a9fe:a9fe]'],
  ['compatible private', '[::10.0.0.1]'],
  ['translated (SIIT)', '[::ffff:0:7f00:1]'],
  ['NAT64 64:ff9b::/96', '[64:ff9b::127.0.0.1]'],
  ['NAT64 metadata', '[64:ff9b::a9fe:a9fe]'],
  ['NAT64 local-use 64:ff9b:1::/48', '[64:ff9b:1::7f00:1]'],
  ['NAT64 local-use, public inside', '[64:ff9b:1::808:808]'],
  ['6to4 2002::/16', '[2002:7f00:1::1]'],
  ['6to4 metadata', '[2002:a9fe:a9fe::]'],
  ['Teredo 2001::/32, client 127.0.0.1', '[2001:0:4136:e378:8000:63bf:80ff:fffe]'],
  ['Teredo, client 169.254.169.254', '[2001:0:4136:e378:8000:63bf:5601:5601]'],
  ['Teredo, server 10.0.0.1', '[2001:0:a00:1:8000:63bf:f7f7:f7f7]'],
  ['IPv6 link-local', '[fe80::1]'],
  ['unique-local fc00::/7', '[fc00::1]'],
  ['unique-local fd', '[fd12:3456:789a::1]'],
  ['metadata IPv6 (AWS)', '[fd00:ec2::254]'],
  ['site-local (deprecated)', '[fec0::1]'],
  ['IPv6 multicast', '[ff02::1]'],
  ['IPv6 documentation', '[2001:db8::1]'],
  ['IPv6 documentation 3fff::/20', '[3fff::1]'],
  ['IPv6 benchmarking', '[2001:2::1]'],
  ['discard-only 100::/64', '[100::1]'],
  ['outside 2000::/3', '[4000::1]'],
];

/** The address each host stands for, as a resolver would answer it (WHATWG's canonical form). */
const addressOf = (host: string) => new URL(`http://${host}/`).hostname.replace(/^\[|\]$/g, '');

/** Every internal address once: what the DNS names below resolve to. */
const INTERNAL_ADDRESSES = [...new Set(INTERNAL_HOSTS.map(([, host]) => addressOf(host)))];

/** DNS names: one per internal address, plus one mixing a public and an internal answer. */
const NAMES: Record<string, string[]> = {
  'public.example': ['93.184.216.34', '2606:2800:220:1::'],
  'mixed.example': ['93.184.216.34', '169.254.169.254'],
  ...Object.fromEntries(INTERNAL_ADDRESSES.map((a, i) => [`internal-${i}.example`, [a]])),
};
const INTERNAL_NAMES = Object.keys(NAMES).filter((n) => n !== 'public.example');

const resolveHost: HostResolver = async (host) => {
  const answer = NAMES[host];
  if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return answer;
};

/** A server on this host that counts every TCP connection it gets: the guard must keep it at 0. */
let victim: http.Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  victim = http.createServer((_req, res) => res.end('reached'));
  victim.on('connection', () => connections++);
  await new Promise<void>((resolve) => victim.listen({ port: 0, host: '::', ipv6Only: false }, resolve));
  port = (victim.address() as AddressInfo).port;
});

afterAll(async () => {
  victim.closeAllConnections();
  await new Promise((resolve) => victim.close(resolve));
});

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`SSRF at endpoint creation (${dialect})`, () => {
    let s: TestService;
    let token: string;
    const base = '/api/v1/customers/SSRF/webhooks';
    beforeAll(async () => {
      s = await startService({ dialect, allowPrivateEndpoints: false, resolveHost });
      token = await s.partner('SSRF');
    });
    afterAll(() => s?.close());

    const create = (url: string) => s.call('POST', base, { token, body: { url, event_types: [TYPE] } });

    /** Asserts a 400 on `$.url` that says "not allowed" and, when given, does not echo `address`. */
    function expectRefused(res: Awaited<ReturnType<typeof create>>, what: string, address?: string) {
      expect(res.statusCode, what).toBe(400);
      const error = expectErrorShape(res);
      expect(error.code, what).toBe('validation_failed');
      expect(error.details, what).toEqual({
        in: 'body',
        problems: [{ path: '$.url', message: NOT_PUBLIC_PROBLEM }],
      });
      if (address !== undefined) expect(res.body, what).not.toContain(address);
    }

    it('refuses every internal IP literal, in every spelling', async () => {
      for (const [form, host] of INTERNAL_HOSTS) {
        expectRefused(await create(`http://${host}:${port}/hook`), `${form}: ${host}`);
      }
    });

    it('refuses every DNS name resolving to an internal address, without saying what it resolves to', async () => {
      for (const name of INTERNAL_NAMES) {
        const internal = NAMES[name]?.at(-1) ?? '';
        const res = await create(`https://${name}/hook`);
        expectRefused(res, `${name} → ${internal}`, internal);
      }
      // a name that does not resolve gets the same answer: no oracle for internal names
      const unknown = await create('https://unknown.example/hook');
      expect(unknown.statusCode).toBe(400);
      expect(expectErrorShape(unknown).details).toEqual({
        in: 'body',
        problems: [{ path: '$.url', message: NOT_PUBLIC_PROBLEM }],
      });
    });

    it('refuses them on PATCH too, and accepts public addresses in every spelling that reaches one', async () => {
      const accepted: [string, string][] = [
        ['https://public.example/hook', 'https://public.example/hook'],
        ['http://8.8.8.8/hook', 'http://8.8.8.8/hook'],
        // stored normalised (one endpoint per URL per partner: a path of its own)
        ['http://134744072/other', 'http://8.8.8.8/other'],
        ['http://[2606:4700:4700::1111]/hook', 'http://[2606:4700:4700::1111]/hook'],
        ['http://[::ffff:8.8.8.8]/hook', 'http://[::ffff:808:808]/hook'],
        ['http://[64:ff9b::8.8.8.8]/hook', 'http://[64:ff9b::808:808]/hook'],
      ];
      const ids: string[] = [];
      for (const [url, stored] of accepted) {
        const res = await create(url);
        expect(res.statusCode, url).toBe(201);
        expect(res.json().url).toBe(stored);
        ids.push(res.json().id);
      }
      for (const host of ['[::127.0.0.1]', '[::a9fe:a9fe]', 'internal-0.example']) {
        const res = await s.call('PATCH', `${base}/${ids[0]}`, {
          token,
          body: { url: `http://${host}/hook` },
        });
        expect(res.statusCode, host).toBe(400);
      }
      const listed = (await s.call('GET', base, { token })).json().webhooks as { url: string }[];
      expect(listed.map((w) => w.url).sort()).toEqual(accepted.map(([, stored]) => stored).sort());
    });
  });
}

describe('SSRF at connect time', () => {
  it('the sender refuses every internal IP literal without opening a connection', async () => {
    const before = connections;
    const sender = createSender({ timeoutMs: 3000 });
    try {
      for (const [form, host] of INTERNAL_HOSTS) {
        const result = await sender.send({
          url: `http://${host}:${port}/hook`,
          messageId: 'evt_ssrf',
          payload: '{}',
          secrets: [SECRET],
        });
        expect(result, `${form}: ${host}`).toMatchObject({ statusCode: null, errorKind: 'private_address' });
      }
    } finally {
      await sender.close();
    }
    expect(connections).toBe(before);
  });

  it('the sender refuses a real name of this host (localhost)', async () => {
    const before = connections;
    const sender = createSender({ timeoutMs: 3000 });
    const result = await sender.send({
      url: `http://localhost:${port}/hook`,
      messageId: 'evt_ssrf',
      payload: '{}',
      secrets: [SECRET],
    });
    await sender.close();
    expect(result).toMatchObject({ statusCode: null, errorKind: 'private_address' });
    expect(result.errorMessage).not.toMatch(/127\.0\.0\.1|::1/);
    expect(connections).toBe(before);
  });

  type NetLookup = ReturnType<typeof createGuardedLookup>;

  /** One POST to a name through a bare undici pool resolving it with `lookup` (for the control). */
  async function postByName(lookup: NetLookup): Promise<unknown> {
    const pool = new Pool(`http://victim.example:${port}`, {
      connect: buildConnector({ timeout: 3000, lookup }),
    });
    try {
      const res = await pool.request({ path: '/hook', method: 'POST', body: '{}' });
      expect(await res.body.text()).toBe('reached');
      return undefined;
    } catch (err) {
      return err;
    } finally {
      await pool.destroy();
    }
  }

  /**
   * One POST to a name through the real sender, which resolves it with `lookup`; the attempt's result.
   */
  async function sendByName(lookup: LookupAll): Promise<AttemptResult> {
    const sender = createSender({ lookup, timeoutMs: 3000 });
    try {
      return await sender.send({
        url: `http://victim.example:${port}/hook`,
        messageId: 'msg_ssrf',
        payload: '{}',
        secrets: [SECRET],
      });
    } finally {
      await sender.close();
    }
  }

  /** DNS standing in: every name resolves to `addresses`. */
  const answering =
    (addresses: readonly string[]): LookupAll =>
    (_hostname, _options, callback) =>
      callback(
        null,
        addresses.map((address) => ({ address, family: net.isIP(address) })),
      );

  /** The same answers without the guard: what a connector without it would do. */
  const unguarded =
    (addresses: readonly string[]): NetLookup =>
    (_hostname, options, callback) => {
      const all = addresses.map((address) => ({ address, family: net.isIP(address) }));
      if (options.all) return callback(null, all);
      callback(null, all[0]?.address ?? '', all[0]?.family);
    };

  it('without the guard, a name resolving to this host would reach the victim (the control)', async () => {
    const before = connections;
    const loopbacks = ['127.0.0.1', '::1', '::ffff:127.0.0.1', '0.0.0.0', '::'];
    for (const address of loopbacks) expect(await postByName(unguarded([address])), address).toBeUndefined();
    expect(connections).toBe(before + loopbacks.length);
  });

  it('the guarded lookup refuses a name resolving to any internal address (DNS rebinding)', async () => {
    const before = connections;
    for (const name of INTERNAL_NAMES) {
      const addresses = NAMES[name] ?? [];
      const result = await sendByName(answering(addresses));
      expect(result, `${name} → ${addresses.join(', ')}`).toMatchObject({
        statusCode: null,
        errorKind: 'private_address',
      });
      for (const address of addresses) expect(result.errorMessage).not.toContain(address);
    }
    expect(connections).toBe(before);
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`SSRF through the dispatcher (${dialect})`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await openDatabase(dialect);
    });
    afterAll(() => db?.dispose());

    it('refuses endpoints stored before the fix (compatible, mapped, unspecified, localhost) at connect time', async () => {
      const before = connections;
      const partner = await newPartner(db.store);
      // written straight to the store, as a version without the fix accepted them
      const urls = ['[::7f00:1]', '[::a9fe:a9fe]', '[::ffff:7f00:1]', '0.0.0.0', '[::]', 'localhost'].map(
        (host) => `http://${host}:${port}/hook`,
      );
      const endpoints = new Map<string, string>();
      for (const url of urls) endpoints.set(await newEndpoint(db.store, partner, url), url);
      const dispatcher = createDispatcher({
        queue: db.queue,
        allowPrivateEndpoints: false,
        policy: createRetryPolicy({ schedule: [3_600_000], jitter: 'none' }),
        timeoutMs: 3000,
        pollIntervalMs: 50,
      });
      dispatcher.start();
      try {
        await decide(db.store, partner, await newThirdParty(db.store, partner), 'APPROVED');
        dispatcher.notify();
        for (const [id, url] of endpoints) {
          const attempt = await waitFor(
            async () => (await db.store.listDeliveries(partner, id, { limit: 1 })).items[0]?.attempts[0],
            { what: `an attempt to ${url}` },
          );
          expect(attempt.error, url).toMatch(/^private_address: .*not allowed/);
          expect(attempt.error, url).not.toMatch(/127\.0\.0\.1|169\.254/);
        }
      } finally {
        await dispatcher.stop(1000);
      }
      expect(connections).toBe(before);
    });
  });
}
