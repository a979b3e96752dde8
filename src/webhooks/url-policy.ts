/**
 * Which URLs may become webhook endpoints. The platform POSTs to them from inside its network, so a
 * URL that points back inside (loopback, private ranges, cloud metadata at 169.254.169.254…) would
 * turn the dispatcher into a request forger (SSRF). Only globally routable unicast addresses pass,
 * unless the operator allows private endpoints (development and tests).
 */
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

/** Resolves a host name to every address it has (A and AAAA). */
export type HostResolver = (host: string) => Promise<string[]>;

/** The default resolver: the system's, like the dispatcher's connections will use. */
export const systemResolver: HostResolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** The longest endpoint URL we accept. */
export const MAX_URL_LENGTH = 2048;
const RESOLVE_TIMEOUT_MS = 5_000;

/**
 * True when `address` is a globally routable unicast IP: not private, loopback, link-local,
 * unspecified, CGNAT, multicast, unique-local, reserved, or an IPv6 form embedding one of those.
 * The dispatcher must apply the same test to the address it actually connects to (DNS rebinding).
 *
 * @example
 * isPublicAddress('8.8.8.8'); // true
 * isPublicAddress('::ffff:10.0.0.1'); // false
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) {
    ip = (ip as ipaddr.IPv6).toIPv4Address();
  }
  return ip.range() === 'unicast';
}

/** Outcome of checking an endpoint URL: the normalised URL, or why it is refused. */
export type UrlCheck = { ok: true; url: string } | { ok: false; problem: string };

export interface UrlPolicyOptions {
  /** Skip the address check (development and tests, `ALLOW_PRIVATE_ENDPOINTS=true`). */
  allowPrivate: boolean;
  resolve?: HostResolver;
}

/**
 * Checks a would-be endpoint URL: http(s), no credentials or fragment, and (unless private endpoints
 * are allowed) every address its host resolves to is public.
 *
 * @example
 * await checkEndpointUrl('https://partner.example/webhooks', {allowPrivate: false});
 */
export async function checkEndpointUrl(raw: string, options: UrlPolicyOptions): Promise<UrlCheck> {
  if (raw.length > MAX_URL_LENGTH)
    return { ok: false, problem: `Must be at most ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, problem: 'Must be an absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, problem: 'Must be an http or https URL' };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, problem: 'Must not contain credentials; use the signing secret to authenticate' };
  }
  if (url.hash !== '') return { ok: false, problem: 'Must not contain a fragment (#…)' };
  if (url.hostname === '') return { ok: false, problem: 'Must have a host' };
  if (options.allowPrivate) return { ok: true, url: url.href };

  // WHATWG URL has already normalised odd IPv4 spellings (0x7f.1, 2130706433) to dotted form.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: string[];
  if (ipaddr.isValid(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await withTimeout((options.resolve ?? systemResolver)(host), RESOLVE_TIMEOUT_MS);
    } catch {
      return { ok: false, problem: `The host ${host} does not resolve` };
    }
    if (addresses.length === 0) return { ok: false, problem: `The host ${host} does not resolve` };
  }
  const internal = addresses.find((a) => !isPublicAddress(a));
  if (internal !== undefined) {
    return {
      ok: false,
      problem: `The host resolves to ${internal}, a private, loopback, link-local or otherwise non-public address`,
    };
  }
  return { ok: true, url: url.href };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
