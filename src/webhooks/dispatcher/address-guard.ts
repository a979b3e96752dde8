/**
 * The private-address rule, enforced on the address actually connected.
 *
 * Checking a URL when the partner registers it is not enough: its DNS name can later resolve to
 * 127.0.0.1 or 169.254.169.254 (DNS rebinding). So the sender's connector resolves the name itself,
 * checks every address it got with the same rule as registration (../address-policy.ts), and
 * connects only to a checked one.
 */

import type { LookupAddress, LookupAllOptions, LookupOptions } from 'node:dns';
import dns from 'node:dns';
import net from 'node:net';
import { addressRefusal } from '../address-policy.js';

/**
 * Thrown (as a connect error) when an endpoint is or resolves to an address the rule refuses. Its
 * message ends up in the attempt log partners read, so it does not say what the name resolved to;
 * `address` and `range` are there for operators.
 */
export class PrivateAddressError extends Error {
  readonly code = 'ERR_PRIVATE_ADDRESS';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`refusing to connect to ${host}: not allowed, it is or resolves to a private or reserved address`);
    this.name = 'PrivateAddressError';
  }
}

/**
 * Why an address is refused (a range name such as 'loopback'), or null when it is global unicast.
 *
 * @example refusedRange('10.0.0.1') // 'private'
 * @example refusedRange('::127.0.0.1') // 'loopback'
 * @example refusedRange('8.8.8.8') // null
 */
export const refusedRange: (address: string) => string | null = addressRefusal;

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** Resolves every address of a name, as `dns.lookup` with `{all: true}` does. */
export type LookupAll = (
  hostname: string,
  options: LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemLookupAll: LookupAll = (hostname, options, callback) => dns.lookup(hostname, options, callback);

/**
 * A `lookup` for `net.connect`/`tls.connect` that refuses non-public addresses. It resolves all
 * addresses (with `resolveAll`, the system resolver by default) and fails if any is refused, so a
 * name cannot mix a public and a private answer.
 *
 * @example
 * buildConnector({ timeout, lookup: createGuardedLookup() });
 */
export function createGuardedLookup(resolveAll: LookupAll = systemLookupAll) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolveAll(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const range = refusedRange(a.address);
        if (range !== null) return callback(new PrivateAddressError(hostname, a.address, range), []);
      }
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      if (options.all) return callback(null, addresses);
      callback(null, first.address, first.family);
    });
  };
}

/** The guarded lookup over the system resolver. */
export const guardedLookup = createGuardedLookup();

/** Checks a literal IP host (which `net.connect` connects to without any lookup). */
export function checkLiteralHost(hostname: string): PrivateAddressError | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (net.isIP(bare) === 0) return null;
  const range = refusedRange(bare);
  return range === null ? null : new PrivateAddressError(hostname, bare, range);
}
