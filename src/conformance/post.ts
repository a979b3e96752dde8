/** One raw POST to a receiver, measured; a failure to connect is an outcome, not an exception. */
import { request } from 'undici';

/** What the receiver answered, or why there was no answer. */
export type PostOutcome =
  | { ok: true; status: number; body: string; durationMs: number }
  | { ok: false; error: string; durationMs: number };

/** The most of a response body kept: receivers' answers are small, a runaway one must not be. */
const MAX_RESPONSE_CHARS = 64 * 1024;

/**
 * POSTs exactly `body` with `headers` and reads the answer (redirects are not followed, as the
 * dispatcher does not follow them).
 *
 * @example
 * const outcome = await postRaw(url, { ...signed, 'content-type': 'application/json' }, json, 10_000);
 */
export async function postRaw(
  url: string,
  headers: Record<string, string>,
  body: string | Uint8Array,
  timeoutMs: number,
): Promise<PostOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const response = await request(url, {
      method: 'POST',
      headers: { 'user-agent': 'tpcs-cli/0.1', ...headers },
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    return {
      ok: true,
      status: response.statusCode,
      body: text.slice(0, MAX_RESPONSE_CHARS),
      durationMs: elapsed(),
    };
  } catch (error) {
    const e = error as Error & { code?: string };
    return { ok: false, error: e.code ? `${e.code}: ${e.message}` : e.message, durationMs: elapsed() };
  }
}
