/**
 * Telling "nothing is there" from "it answered slowly or badly", for the commands that send to a URL
 * (`trigger`, `conformance`): the first is said at once, in one line, and ends the command with exit 1.
 */
import { request } from 'undici';

/** Error codes of a connection that could not be made at all (no such host, nothing listening, no route). */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Whether an error (or the `CODE: message` text `postRaw` gives) says no connection could be made.
 *
 * @example
 * cannotConnect('ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1'); // true
 */
export function cannotConnect(error: unknown): boolean {
  const code =
    typeof error === 'string'
      ? /^([A-Z_]+):/.exec(error)?.[1]
      : (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && CONNECT_ERRORS.has(code);
}

/**
 * Why `url` cannot be reached, or undefined when something answers there (whatever the status) or
 * the connection was made but the answer was slow: a GET, before a run of many requests.
 *
 * @example
 * await unreachable('http://127.0.0.1:1/webhook', 10_000); // 'connect ECONNREFUSED 127.0.0.1:1'
 */
export async function unreachable(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const response = await request(url, {
      method: 'GET',
      headers: { 'user-agent': 'tpcs-cli/0.1' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await response.body.dump();
    return undefined;
  } catch (error) {
    return cannotConnect(error) ? (error as Error).message : undefined;
  }
}
