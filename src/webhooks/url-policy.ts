/**
 * Which URLs may become webhook endpoints. The platform POSTs to them from inside its network, so a
 * URL that points back inside (loopback, private ranges, cloud metadata at 169.254.169.254…) would
 * turn the dispatcher into a request forger (SSRF). Only global unicast addresses pass (the rule of
 * ./address-policy.ts, which the dispatcher applies again at connect time against DNS rebinding),
 * unless the operator allows private endpoints (development and tests).
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { isAllowedAddress } from './address-policy.js';

/** Resolves a host name to every address it has (A and AAAA). */
export type HostResolver = (host: string) => Promise<string[]>;

/** The default resolver: the system's, like the dispatcher's connections will use. */
export const systemResolver: HostResolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** The longest endpoint URL we accept. */
export const MAX_URL_LENGTH = 2048;
const RESOLVE_TIMEOUT_MS = 5_000;

/**
 * True when `address` is a global unicast IP the platform may send to; the same rule
 * (./address-policy.ts) the dispatcher applies to the address it actually connects to.
 *
 * @example
 * isPublicAddress('8.8.8.8'); // true
 * isPublicAddress('::ffff:10.0.0.1'); // false
 */
export function isPublicAddress(address: string): boolean {
  return isAllowedAddress(address);
}

/**
 * What a partner is told about a refused host. It never says what a name resolved to (that would
 * map the internal network for whoever asks), nor whether it resolved at all: either way the answer
 * is the same, so the API cannot be used to find out which internal names exist.
 */
export const NOT_PUBLIC_PROBLEM =
  'Not allowed: the host must resolve to public internet addresses only, and it does not resolve or resolves to a private or reserved address';

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
  const shape = endpointUrlShape(raw);
  if (!shape.ok) return shape;
  const url = shape.url;
  if (options.allowPrivate) return { ok: true, url: url.href };

  // WHATWG URL has already normalised odd IPv4 spellings (0x7f.1, 2130706433, 127.1) to dotted form.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const addresses = net.isIP(host) !== 0 ? [host] : await resolveQuietly(host, options.resolve);
  if (addresses.length === 0 || !addresses.every(isAllowedAddress)) {
    return { ok: false, problem: NOT_PUBLIC_PROBLEM };
  }
  return { ok: true, url: url.href };
}

/**
 * The checks of {@link checkEndpointUrl} that need no network: length, http(s), no credentials or
 * fragment, a host. The request schema runs them too, so that a bad URL is reported with the body's
 * other problems.
 *
 * @example
 * endpointUrlShape('nope'); // { ok: false, problem: 'Must be an absolute URL' }
 */
export function endpointUrlShape(raw: string): { ok: true; url: URL } | { ok: false; problem: string } {
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
  return { ok: true, url };
}

/** Every address of `host`; none when it does not resolve (in time). */
async function resolveQuietly(host: string, resolve: HostResolver = systemResolver): Promise<string[]> {
  try {
    return await withTimeout(resolve(host), RESOLVE_TIMEOUT_MS);
  } catch {
    return [];
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
