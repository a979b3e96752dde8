/**
 * The one rule for which IP addresses the platform may send webhooks to, used both when a partner
 * registers a URL (url-policy.ts) and when the dispatcher connects (dispatcher/address-guard.ts).
 *
 * It is an allow-list: an address passes only if it is global unicast.
 * - IPv4: in none of the ranges of the IANA IPv4 Special-Purpose Address Registry (RFC 6890 and
 *   updates), nor multicast, nor the reserved 240/4.
 * - IPv6: in 2000::/3 and in none of the ranges of the IANA IPv6 Special-Purpose Address Registry.
 * - IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo, translated) are
 *   judged by that IPv4 address first, so `::127.0.0.1` or `2002:a9fe:a9fe::` is refused for what
 *   it points to. Two of them are plain spellings of an IPv4 destination and pass when their IPv4
 *   does: IPv4-mapped (`::ffff:8.8.8.8`, what a dual-stack socket connects to) and the well-known
 *   NAT64 prefix 64:ff9b::/96 (globally reachable per IANA; it is how IPv6-only networks reach IPv4
 *   hosts). The others are deprecated or local-use transition forms and never pass.
 *
 * Ranges as of the registries' 2025 versions. Each names its reason, kept on the connect error for
 * operators; partners are told only that the address is not allowed.
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';

interface SpecialRange<T extends ipaddr.IPv4 | ipaddr.IPv6> {
  range: [T, number];
  reason: string;
}

function ipv4Ranges(table: ReadonlyArray<readonly [string, string]>): SpecialRange<ipaddr.IPv4>[] {
  return table.map(([cidr, reason]) => ({ range: ipaddr.IPv4.parseCIDR(cidr), reason }));
}

function ipv6Ranges(table: ReadonlyArray<readonly [string, string]>): SpecialRange<ipaddr.IPv6>[] {
  return table.map(([cidr, reason]) => ({ range: ipaddr.IPv6.parseCIDR(cidr), reason }));
}

/** IANA IPv4 special-purpose registry, plus multicast and class E; more specific entries first. */
const IPV4_SPECIAL = ipv4Ranges([
  ['0.0.0.0/8', 'unspecified'], // "this network"; 0.0.0.0 connects to the local host on Linux
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrierGradeNat'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'linkLocal'], // cloud metadata at 169.254.169.254
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'ietfProtocolAssignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.31.196.0/24', 'as112'],
  ['192.52.193.0/24', 'amt'],
  ['192.88.99.0/24', '6to4Relay'],
  ['192.168.0.0/16', 'private'],
  ['192.175.48.0/24', 'as112'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
]);

/** IANA IPv6 special-purpose registry and the other non-global blocks; more specific entries first. */
const IPV6_SPECIAL = ipv6Ranges([
  ['100::/64', 'discardOnly'],
  ['100:0:0:1::/64', 'dummyPrefix'],
  ['2001:2::/48', 'benchmarking'],
  ['2001:10::/28', 'orchid'],
  ['2001:20::/28', 'orchid'],
  ['2001::/23', 'ietfProtocolAssignments'], // PCP/TURN anycast, AMT, AS112, drone remote ID…
  ['2001:db8::/32', 'documentation'],
  ['2620:4f:8000::/48', 'as112'],
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'segmentRouting'],
  ['fc00::/7', 'uniqueLocal'], // AWS metadata at fd00:ec2::254
  ['fe80::/10', 'linkLocal'],
  ['fec0::/10', 'siteLocal'],
  ['ff00::/8', 'multicast'],
]);

/** Inside ::/96 (IPv4-compatible) but meaning themselves; judged before any embedded form. */
const IPV6_SELF = ipv6Ranges([
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
]);

const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');

interface EmbeddingForm {
  range: [ipaddr.IPv6, number];
  name: string;
  /** The IPv4 addresses the form carries (Teredo carries two). */
  extract(parts: readonly number[]): ipaddr.IPv4[];
  /** Whether the form is just another spelling of its IPv4 destination (then it passes when that does). */
  spellsIPv4: boolean;
}

/** The IPv4 address in two 16-bit groups. */
function ipv4Of(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** The IPv4 address in the last 32 bits, where most forms keep it. */
const lastGroups = (parts: readonly number[]) => [ipv4Of(parts[6] ?? 0, parts[7] ?? 0)];

function form(
  cidr: string,
  name: string,
  spellsIPv4: boolean,
  extract: EmbeddingForm['extract'] = lastGroups,
): EmbeddingForm {
  return { range: ipaddr.IPv6.parseCIDR(cidr), name, spellsIPv4, extract };
}

/** Every IPv6 form carrying an IPv4 address; `::` and `::1` are matched earlier as themselves. */
const EMBEDDING_FORMS: readonly EmbeddingForm[] = [
  form('::ffff:0:0/96', 'ipv4Mapped', true),
  form('64:ff9b::/96', 'nat64', true),
  // Local-use NAT64 prefixes may be /48 to /96 (RFC 6052); the IPv4 is decoded at the /96 place for
  // the reason only: the whole block is refused either way.
  form('64:ff9b:1::/48', 'nat64LocalUse', false),
  form('::/96', 'ipv4Compatible', false),
  form('::ffff:0:0:0/96', 'ipv4Translated', false),
  form('2002::/16', '6to4', false, (parts) => [ipv4Of(parts[1] ?? 0, parts[2] ?? 0)]),
  // 2001:0:SERVER:SERVER:flags:port:CLIENT:CLIENT, the client address XOR-ed with ones.
  form('2001::/32', 'teredo', false, (parts) => [
    ipv4Of(~(parts[6] ?? 0) & 0xffff, ~(parts[7] ?? 0) & 0xffff),
    ipv4Of(parts[2] ?? 0, parts[3] ?? 0),
  ]),
];

function firstMatch<T extends ipaddr.IPv4 | ipaddr.IPv6>(ip: T, ranges: readonly SpecialRange<T>[]) {
  for (const { range, reason } of ranges) if (ip.match(range)) return reason;
  return null;
}

function ipv4Refusal(ip: ipaddr.IPv4): string | null {
  return firstMatch(ip, IPV4_SPECIAL);
}

/**
 * Why the platform must not connect to `address`, or null when it may (a global unicast address).
 * Takes IP literals only (as `net.isIP` accepts them, brackets allowed); anything else is 'invalid'.
 * The reason is for operators; partners are told only that the address is not allowed.
 *
 * @example
 * addressRefusal('8.8.8.8'); // null
 * addressRefusal('::127.0.0.1'); // 'loopback' (IPv4-compatible form of 127.0.0.1)
 * addressRefusal('64:ff9b::a9fe:a9fe'); // 'linkLocal' (NAT64 form of 169.254.169.254)
 * addressRefusal('fd00:ec2::254'); // 'uniqueLocal'
 */
export function addressRefusal(address: string): string | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  // net.isIP accepts what a socket takes as a literal; odd IPv4 spellings (0x7f.1, 2130706433) are
  // names to it (getaddrinfo turns them into 127.0.0.1, which is judged then).
  const family = net.isIP(bare);
  if (family === 4) return ipv4Refusal(ipaddr.IPv4.parse(bare));
  if (family === 6) return ipv6Refusal(bare);
  return 'invalid';
}

function ipv6Refusal(literal: string): string | null {
  // A zone (fe80::1%eth0) names an interface of this host: never a partner's address.
  if (literal.includes('%')) return 'scoped';
  // ipaddr.js reads the deprecated `::a.b.c.d` as `::ffff:a.b.c.d`; the WHATWG URL parser writes
  // any spelling as plain hex groups, which ipaddr.js then reads as the socket would.
  let ip: ipaddr.IPv6;
  try {
    ip = ipaddr.IPv6.parse(new URL(`http://[${literal}]/`).hostname.slice(1, -1));
  } catch {
    return 'invalid';
  }
  const self = firstMatch(ip, IPV6_SELF);
  if (self !== null) return self;
  for (const form of EMBEDDING_FORMS) {
    if (!ip.match(form.range)) continue;
    for (const ipv4 of form.extract(ip.parts)) {
      const inner = ipv4Refusal(ipv4);
      if (inner !== null) return inner;
    }
    return form.spellsIPv4 ? null : form.name;
  }
  return firstMatch(ip, IPV6_SPECIAL) ?? (ip.match(GLOBAL_UNICAST) ? null : 'reserved');
}

/**
 * True when `address` is a global unicast IP the platform may connect to.
 *
 * @example
 * isAllowedAddress('2606:4700:4700::1111'); // true
 * isAllowedAddress('::ffff:10.0.0.1'); // false
 */
export function isAllowedAddress(address: string): boolean {
  return addressRefusal(address) === null;
}
