import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay from 'find-my-way';
import { z } from 'zod';
import {
  ERROR_STATUS,
  type ErrorBody,
  type ErrorCode,
  errorBody,
  jsonPath,
  type Problem,
} from '../errors/index.js';
import { InvalidCursorError, isStorageUnavailable } from '../storage/index.js';
import {
  defaultIssueMessage,
  type IssueSource,
  issueProblems,
  issuesBesideDiscriminator,
} from './issue-messages.js';

/**
 * `Retry-After` of a 503: long enough for a restarting database or a failover, short enough that a
 * client retrying after it loses little once the database is back.
 */
export const RETRY_AFTER_SECONDS = 5;

/** The zod schema of `ErrorBody`, for the OpenAPI document: every code of the one vocabulary. */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z
        .enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]])
        .meta({ description: 'Stable and machine-readable; each code has one HTTP status.' }),
      message: z.string().meta({ description: 'A summary for humans.' }),
      details: z.record(z.string(), z.unknown()).optional().meta({
        description:
          'On validation_failed, `problems`: every problem as `{path, message}`, the path a JSON path ("$.property_details[0].property_ref"); on endpoint_exists, `endpoint_id`.',
      }),
    }),
  })
  .meta({ id: 'Error' });

/**
 * The service's one HTTP error: a code from `ERROR_STATUS` (src/errors), a message for humans and
 * optional details.
 *
 * @example
 * throw new HttpError('not_found', 'No third party customer CUST_001');
 */
export class HttpError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = details;
  }

  /** The JSON body this error answers with. */
  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.details);
  }
}

/**
 * Sends `err` as the error shape, adding the headers its code calls for: `WWW-Authenticate` on a 401,
 * `Retry-After` on a 429 that knows the wait and on every 503 (the default wait when it does not).
 */
export function sendHttpError(reply: FastifyReply, err: HttpError): FastifyReply {
  if (err.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
  const given = err.details?.retry_after_seconds;
  const retryAfter = typeof given === 'number' ? given : undefined;
  if (err.code === 'rate_limited' && retryAfter !== undefined)
    reply.header('retry-after', String(retryAfter));
  if (err.code === 'unavailable') reply.header('retry-after', String(retryAfter ?? RETRY_AFTER_SECONDS));
  return reply.code(err.status).type('application/json; charset=utf-8').send(err.toBody());
}

/**
 * The 503 for an error saying the database is unavailable (down, unreachable, past `DATABASE_TIMEOUT`,
 * full or locked: `isStorageUnavailable` in src/storage/errors.ts), or undefined for any other error.
 * The one place that turns storage failures into answers, so every route says it the same way.
 *
 * @example
 * const answer = storageUnavailable(err); // HttpError('unavailable', …) or undefined
 */
export function storageUnavailable(err: unknown): HttpError | undefined {
  if (!isStorageUnavailable(err)) return undefined;
  return new HttpError('unavailable', 'The database is not available right now; retry later', {
    retry_after_seconds: RETRY_AFTER_SECONDS,
  });
}

/**
 * zod issues → problems, each at its JSON path (`$.property_details[0].property_ref`), each saying
 * what was expected and what was given ("expected a string, got a number"; "Required" only for a
 * field that is absent); an unrecognized-keys issue becomes one problem per unknown key. `source`
 * is the request part that was checked (see {@link IssueSource}); without it, zod's `input` is used.
 *
 * @example
 * problemsFromIssues(result.error.issues, { input: body }); // [{ path: '$.customer_id', message: 'expected a string, got a number' }]
 */
export function problemsFromIssues(
  issues: ReadonlyArray<z.core.$ZodIssue>,
  source: IssueSource = {},
): Problem[] {
  // A value of the wrong type is reported once, as such: zod may go on checking its length and rules.
  const mistyped = new Set(issues.filter(isTypeIssue).map((issue) => jsonPath(issue.path)));
  return issues
    .filter((issue) => isTypeIssue(issue) || !mistyped.has(jsonPath(issue.path)))
    .flatMap((issue) => issueProblems(issue, source));
}

function isTypeIssue(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'invalid_union';
}

/**
 * Parses `data` with a request schema, every issue kept and worded for a client: zod's messages
 * replaced by "expected …" ones ({@link defaultIssueMessage}), with what was given.
 *
 * @example
 * const parsed = parseRequestPart(newEndpointSchema, body, 'body'); // { ok: true, value } or { ok: false, problems }
 */
export function parseRequestPart(
  schema: z.ZodType,
  data: unknown,
  part: ValidationPart = 'body',
): { ok: true; value: unknown } | { ok: false; problems: Problem[] } {
  const parse = (value: unknown) =>
    schema.safeParse(value, { reportInput: true, error: defaultIssueMessage });
  const result = parse(data);
  if (result.success) return { ok: true, value: result.data };
  const { issues } = result.error;
  const beside = issuesBesideDiscriminator(data, issues, (value) => parse(value).error?.issues ?? []);
  return {
    ok: false,
    problems: problemsFromIssues([...issues, ...beside], { input: data, text: part !== 'body' }),
  };
}

export type ValidationPart = 'body' | 'querystring' | 'params' | 'headers';
const PART_NAMES: Record<ValidationPart, string> = {
  body: 'body',
  querystring: 'query string',
  params: 'path',
  headers: 'headers',
};

/** A request part that failed its zod schema; Fastify adds `validationContext` (which part). */
export class RequestValidationError extends Error {
  readonly problems: Problem[];
  validationContext?: string;

  constructor(problems: Problem[]) {
    super('The request is invalid');
    this.name = 'RequestValidationError';
    this.problems = problems;
  }
}

/**
 * Fastify validator compiler for zod schemas that keeps every issue with its exact path (the
 * type provider's own compiler flattens paths into JSON pointers, losing keys that contain "/") and
 * words each one the same way in the body, the query string and the path.
 */
export const zodValidatorCompiler =
  ({ schema, httpPart }: { schema: unknown; httpPart?: string }) =>
  (data: unknown): { value: unknown } | { error: Error } => {
    const part = (httpPart ?? 'body') as ValidationPart;
    const parsed = parseRequestPart(schema as z.ZodType, data, part);
    return parsed.ok ? { value: parsed.value } : { error: new RequestValidationError(parsed.problems) };
  };

/** Fastify's own client errors (body parsing, content type, size) mapped to our codes. */
function fromFastifyError(err: FastifyError): HttpError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError('payload_too_large', 'The request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError('unsupported_media_type', 'Send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError('bad_request', 'The body is empty but the content type says JSON');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpError('bad_request', 'The body is not valid JSON');
    default:
      break;
  }
  // Malformed JSON surfaces as a SyntaxError (400), prototype poisoning as a plain 400.
  if (err instanceof SyntaxError || err.name === 'SyntaxError') {
    return new HttpError('bad_request', 'The body is not valid JSON');
  }
  const status = err.statusCode ?? 500;
  if (status === 413) return new HttpError('payload_too_large', 'The request body is too large');
  if (status === 415) return new HttpError('unsupported_media_type', 'Send the body as application/json');
  if (status === 404) return new HttpError('not_found', 'Not found');
  if (status === 405) return new HttpError('method_not_allowed', 'Method not allowed');
  if (status === 429) return new HttpError('rate_limited', 'Too many requests');
  if (status === 503) return new HttpError('unavailable', 'The service is not available right now');
  // Any other 4xx from Fastify is a malformed request; its message is safe (no internals).
  if (status >= 400 && status < 500) return new HttpError('bad_request', err.message);
  return undefined;
}

/**
 * Installs the error handler and the not-found handler so that every answer that is not a success
 * is `{error: {code, message, details?}}`, never a stack trace, and a 500 only for real faults. A
 * path that exists with other methods answers 405 with `Allow`; only an unknown path answers 404.
 * Call it before registering routes: it learns them as they are added.
 */
export function installErrorHandling(app: FastifyInstance): void {
  // Fastify answers 404 for a known path with another method. A second router holding every route
  // (a no-op handler each) tells which methods the path has; it is asked only on the not-found path.
  const routes = FindMyWay();
  const methods = new Set<FindMyWay.HTTPMethod>();
  app.addHook('onRoute', (route) => {
    for (const m of [route.method].flat()) {
      const method = m.toUpperCase() as FindMyWay.HTTPMethod;
      methods.add(method);
      try {
        routes.on(method, route.url, () => {});
      } catch {
        // The same path twice (Fastify's constraints tell them apart): one entry answers for both.
      }
    }
  });

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof HttpError) return sendHttpError(reply, err);
    if (err instanceof RequestValidationError) {
      const part = (err.validationContext ?? 'body') as ValidationPart;
      return sendHttpError(
        reply,
        new HttpError('validation_failed', `The request ${PART_NAMES[part] ?? part} is invalid`, {
          in: part,
          problems: err.problems,
        }),
      );
    }
    // Fastify's own first: a client that went away mid-body is a 400 with a network code, not an outage.
    const mapped = fromFastifyError(err);
    if (mapped) return sendHttpError(reply, mapped);
    const unavailable = storageUnavailable(err);
    if (unavailable) {
      // An outage, not a bug: one warning per request, no stack.
      request.log.warn({ err: err.message }, 'database unavailable; answered 503');
      return sendHttpError(reply, unavailable);
    }
    request.log.error({ err }, 'request failed');
    return sendHttpError(reply, new HttpError('internal', 'Something went wrong on our side'));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = [...methods].filter((m) => m !== request.method && routes.find(m, path));
    if (allowed.length > 0) {
      reply.header('allow', allowed.sort().join(', '));
      return sendHttpError(
        reply,
        new HttpError(
          'method_not_allowed',
          `${request.method.slice(0, 20)} is not allowed on ${path.slice(0, 200)}; use ${allowed.join(' or ')}`,
        ),
      );
    }
    return sendHttpError(
      reply,
      new HttpError(
        'not_found',
        `No route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`,
      ),
    );
  });
}

/** Cursors come back from clients: one the store did not make is the client's mistake (400), not ours. */
export function rethrowInvalidCursor(err: unknown): never {
  if (err instanceof InvalidCursorError) {
    throw new HttpError(
      'bad_request',
      'The cursor is not one this API gave out; pass next_cursor back unchanged',
    );
  }
  throw err;
}
