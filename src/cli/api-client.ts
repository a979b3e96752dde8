/**
 * A small client for the service's HTTP API, for the commands that drive a running `tpcs serve`
 * (replay, recover, partners, tokens, listen). Answers are returned, not thrown: a refusal is an
 * ordinary outcome the command reports with exit code 1.
 */
import { STATUS_CODES } from 'node:http';
import { request } from 'undici';
import type { ErrorBody } from '../errors/index.js';

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
      return apiAnswer(response.statusCode, await response.body.text());
    },
  };
}

/** An answer from its status and body text: the JSON body, `null` when empty, else the text itself. */
export function apiAnswer(status: number, text: string): ApiAnswer {
  let body: unknown = text;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's HTML error page, say): keep the text for the message.
  }
  return { status, body };
}

/**
 * A refused API answer as the one line the CLI prints, `error: <code>: <message>`, from the
 * service's error body `{error: {code, message, details?}}`, followed by each problem of a 400
 * (`$.since: expected …`). An answer without that shape (a proxy's page) gives `error: HTTP <status>
 * <reason>: <what it says, on one line>`, never a raw JSON body.
 *
 * @example
 * describeApiError({ status: 404, body: { error: { code: 'not_found', message: 'No delivery dl_1' } } });
 * // 'error: not_found: No delivery dl_1'
 */
export function describeApiError(answer: ApiAnswer): string {
  const error = (answer.body as { error?: Partial<Record<keyof ErrorBody['error'], unknown>> } | null)?.error;
  if (typeof error?.code === 'string' && typeof error.message === 'string') {
    const problems = problemLines(error.details);
    return [`error: ${error.code}: ${oneLine(error.message)}`, ...problems].join('\n');
  }
  const status = `HTTP ${answer.status}${STATUS_CODES[answer.status] ? ` ${STATUS_CODES[answer.status]}` : ''}`;
  const said = foreignMessage(answer.body);
  return said === '' ? `error: ${status}` : `error: ${status}: ${said}`;
}

/**
 * What an answer in another shape says, on one line: a JSON body's `message` (or `error`) text, the
 * start of a text body (a proxy's page); never a JSON body as it came.
 */
function foreignMessage(body: unknown): string {
  if (typeof body === 'string') return oneLine(body).slice(0, 300);
  if (body !== null && typeof body === 'object') {
    const { message, error } = body as { message?: unknown; error?: unknown };
    const said = typeof message === 'string' ? message : typeof error === 'string' ? error : '';
    return oneLine(said).slice(0, 300);
  }
  return '';
}

/** The problems of a validation error, one indented line each: `  $.since: expected …`. */
function problemLines(details: unknown): string[] {
  const problems = (details as { problems?: unknown } | undefined)?.problems;
  if (!Array.isArray(problems)) return [];
  return problems
    .filter(
      (p): p is { path: string; message: string } =>
        typeof p?.path === 'string' && typeof p?.message === 'string',
    )
    .map((p) => `  ${p.path}: ${oneLine(p.message)}`);
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();

/** A path segment, percent-encoded. */
export const seg = (value: string): string => encodeURIComponent(value);
