/**
 * The private-address rule, enforced on the address actually connected.
 *
 * Checking a URL when the partner registers it is not enough: its DNS name can later resolve to
 * 127.0.0.1 or 169.254.169.254 (DNS rebinding). So the sender's connector resolves the name itself,
 * checks every address it got, and connects only to a checked one.
 */

import type { LookupAddress, LookupAllOptions, LookupOptions } from 'node:dns';
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/** Thrown (as a connect error) when an endpoint resolves to an address the rule refuses. */
export class PrivateAddressError extends Error {
  readonly code = 'ERR_PRIVATE_ADDRESS';
  constructor(host: string, address: string, range: string) {
    super(`refusing to connect to ${host}: ${address} is a ${range} address`);
    this.name = 'PrivateAddressError';
  }
}

/**
 * The range of an address when it is not a public unicast one, otherwise null.
 *
 * @example refusedRange('10.0.0.1') // 'private'
 * @example refusedRange('8.8.8.8') // null
 */
export function refusedRange(address: string): string | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(bare)) return 'invalid';
  let parsed = ipaddr.parse(bare);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const range = parsed.range();
  return range === 'unicast' ? null : range;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for `net.connect`/`tls.connect` that refuses non-public addresses. It resolves all
 * addresses and fails if any is refused, so a name cannot mix a public and a private answer.
 */
export function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  const all: LookupAllOptions = { ...options, all: true };
  dns.lookup(hostname, all, (err, addresses) => {
    if (err) return callback(err, []);
    for (const a of addresses) {
      const range = refusedRange(a.address);
      if (range !== null) return callback(new PrivateAddressError(hostname, a.address, range), []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first)
      return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}

/** Checks a literal IP host (which `net.connect` connects to without any lookup). */
export function checkLiteralHost(hostname: string): PrivateAddressError | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (net.isIP(bare) === 0) return null;
  const range = refusedRange(bare);
  return range === null ? null : new PrivateAddressError(hostname, bare, range);
}
