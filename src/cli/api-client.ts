/**
 * A small client for the service's HTTP API, for the commands that drive a running `tpcs serve`
 * (replay, recover, partners, tokens, listen). Answers are returned, not thrown: a refusal is an
 * ordinary outcome the command reports with exit code 1.
 */
import { request } from 'undici';

/** One answer of the API: its status and its JSON body (or the text when it is not JSON). */
export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** The API at `base` (e.g. `http://127.0.0.1:8080`), called with a bearer token. */
export interface ApiClient {
  readonly base: string;
  call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<ApiAnswer>;
}

/** The API could not be reached at all (refused connection, DNS, timeout). */
export class ApiUnreachableError extends Error {
  constructor(base: string, cause: unknown) {
    super(`cannot reach the service at ${base}: ${(cause as Error).message ?? String(cause)}`);
    this.name = 'ApiUnreachableError';
  }
}

/**
 * Makes a client.
 *
 * @example
 * const api = createApiClient('http://127.0.0.1:8080', process.env.TPCS_TOKEN);
 * const { status, body } = await api.call('POST', '/api/v1/admin/partners', { customer_id: 'P1' });
 */
export function createApiClient(base: string, token: string | undefined, timeoutMs = 30_000): ApiClient {
  const root = base.replace(/\/+$/, '');
  return {
    base: root,
    async call(method, path, body) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Awaited<ReturnType<typeof request>>;
      try {
        response = await request(`${root}${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
      } catch (error) {
        throw new ApiUnreachableError(root, error);
      }
      const text = await response.body.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? null : JSON.parse(text);
      } catch {
        // Not JSON (a proxy's HTML error page, say): keep the text for the message.
      }
      return { status: response.statusCode, body: parsed };
    },
  };
}

/** The `{error: {code, message}}` of an API answer as one line, or the body itself when it has none. */
export function describeApiError(answer: ApiAnswer): string {
  const error = (answer.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error && typeof error.message === 'string') {
    return `${answer.status} ${String(error.code ?? '')}: ${error.message}`;
  }
  return `${answer.status}: ${typeof answer.body === 'string' ? answer.body.slice(0, 300) : JSON.stringify(answer.body)}`;
}

/** A path segment, percent-encoded. */
export const seg = (value: string): string => encodeURIComponent(value);
