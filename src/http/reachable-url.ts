/** The URL to print for a server, one a person can open (used by `tpcs serve` and `tpcs receive`). */

/** Addresses that mean "every interface": a server listens there, but no client can open them. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0', '']);

/**
 * The URL to print for a server listening on `host`: a wildcard address becomes `localhost` (the
 * link must open on this machine), an IPv6 literal is bracketed.
 *
 * @example
 * reachableUrl('0.0.0.0', 8080); // 'http://localhost:8080'
 * reachableUrl('::1', 8080); // 'http://[::1]:8080'
 * reachableUrl('tpcs.internal', 8080); // 'http://tpcs.internal:8080'
 */
export function reachableUrl(host: string, port: number): string {
  if (WILDCARD_HOSTS.has(host)) return `http://localhost:${port}`;
  const literal = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${literal}:${port}`;
}
