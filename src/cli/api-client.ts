/**
 * The CLI's way to the service's HTTP API, for the commands that drive a running `tpcs serve`
 * (replay, recover, partners, tokens, listen): every call goes through the typed client
 * (`tpcs/client`), with a timeout. Answers are returned, not thrown: a refusal is an ordinary outcome
 * the command reports with exit code 1. Only a call that got no answer at all throws
 * ({@link ApiUnreachableError}).
 */
import { STATUS_CODES } from 'node:http';
import { createTpcsClient, type TpcsClient } from '../client/index.js';
import type { ErrorBody } from '../errors/index.js';

/** One answer of the API: its status and its JSON body (or the text when it is not JSON). */
export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** A call's outcome: a success with its body, as the API's types say, or the refusal as it came. */
export type ApiResult<T> =
  | { ok: true; status: number; headers: Headers; body: T }
  | { ok: false; status: number; headers: Headers; body: unknown };

/** What a typed client's call resolves to: `data` on a success, `error` (the body) on a refusal. */
export interface ClientAnswer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The API at `base` (e.g. `http://127.0.0.1:8080`), called with a bearer token. */
export interface ApiClient {
  readonly base: string;
  /**
   * Makes one call with the typed client and returns its outcome; a success without a body (which
   * no route of these commands answers) counts as a refusal.
   */
  call<T>(send: (client: TpcsClient) => Promise<ClientAnswer<T>>): Promise<ApiResult<NonNullable<T>>>;
}

/** The API could not be reached at all (refused connection, DNS, timeout). */
export class ApiUnreachableError extends Error {
  constructor(base: string, cause: unknown) {
    super(`cannot reach the service at ${base}: ${networkReason(cause)}`);
    this.name = 'ApiUnreachableError';
  }
}

/**
 * Makes a client; each call gives up after `timeoutMs` (null: never, for a stream that stays open).
 *
 * @example
 * const api = createApiClient('http://127.0.0.1:8080', process.env.TPCS_TOKEN);
 * const answer = await api.call((client) =>
 *   client.POST('/api/v1/admin/partners', { body: { customer_id: '0201001008132685' } }),
 * );
 * if (answer.ok) console.log(answer.body.token);
 */
export function createApiClient(
  base: string,
  token: string | undefined,
  timeoutMs: number | null = 30_000,
): ApiClient {
  const root = base.replace(/\/+$/, '');
  const client = createTpcsClient({
    baseUrl: root,
    token,
    headers: { accept: 'application/json' },
    fetch: (request) =>
      fetch(request, {
        // A redirect is an answer to report, as it was before the client followed them.
        redirect: 'manual',
        signal:
          timeoutMs === null
            ? request.signal
            : AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]),
      }),
  });
  return {
    base: root,
    async call(send) {
      let answer: Awaited<ReturnType<typeof send>>;
      try {
        answer = await send(client);
      } catch (error) {
        // A success whose body is not JSON: something other than the service answered.
        if (error instanceof SyntaxError)
          throw new Error(`the answer from ${root} is not JSON: ${error.message}`);
        throw new ApiUnreachableError(root, error);
      }
      const { data, error, response } = answer;
      const { status, headers } = response;
      if (response.ok && data !== undefined && data !== null)
        return { ok: true, status, headers, body: data };
      // The client gives an error body as parsed JSON, else as text; nothing at all is null here.
      return { ok: false, status, headers, body: error === undefined || error === '' ? null : error };
    },
  };
}

/**
 * Why no answer came, in the network's words: fetch wraps them (`fetch failed`, caused by `connect
 * ECONNREFUSED 127.0.0.1:1`), and a host with several addresses fails with one error per address.
 */
function networkReason(error: unknown): string {
  let reason = error;
  while (reason instanceof Error && reason.message === 'fetch failed' && reason.cause !== undefined) {
    reason = reason.cause;
  }
  if (reason instanceof AggregateError && reason.errors.length > 0) reason = reason.errors[0];
  if (!(reason instanceof Error)) return String(reason);
  if (reason.message !== '') return reason.message;
  return 'code' in reason && typeof reason.code === 'string' ? reason.code : reason.name;
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
