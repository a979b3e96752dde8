/**
 * One error shape: what the API and the receiver kit answer when they refuse is `{error: {code,
 * message, details?}}`, with a code from the one vocabulary (src/errors) and the status it maps to,
 * problems at `$`-rooted JSON paths, and it matches the `Error` schema `/openapi.json` publishes.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidPayloadBody } from '../../src/contract/index.js';
import { ERROR_STATUS, type ErrorCode } from '../../src/errors/index.js';
import { errorResponse } from '../../src/receiver/core/response.js';
import { startService, type TestService, validThirdParty } from './harness.js';

interface OpenApiDoc {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
}

describe('the error shape', () => {
  let s: TestService;
  let token: string;
  let doc: OpenApiDoc;
  let checkError: ValidateFunction;

  /** The answer's error, after checking it against the published schema and the code's status. */
  function refusal(status: number, body: unknown): { code: ErrorCode; message: string; details?: unknown } {
    if (!checkError(body)) throw new Error(`not the Error schema: ${JSON.stringify(checkError.errors)}`);
    const error = (body as { error: { code: ErrorCode; message: string; details?: unknown } }).error;
    expect(ERROR_STATUS[error.code], error.code).toBe(status);
    return error;
  }
  const refused = (res: LightMyRequestResponse) => refusal(res.statusCode, res.json());
  const problemPaths = (details: unknown) =>
    (details as { problems: { path: string }[] }).problems.map((p) => p.path);

  beforeAll(async () => {
    s = await startService();
    token = await s.partner('SHAPE');
    doc = (await s.call('GET', '/openapi.json')).json() as OpenApiDoc;
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    checkError = ajv.compile({ $ref: '#/components/schemas/Error', components: doc.components });
  });
  afterAll(() => s.close());

  it('publishes every code of the vocabulary in the Error schema', () => {
    const error = doc.components.schemas.Error?.properties?.error as
      | { properties: { code: { enum: string[] } } }
      | undefined;
    const codes = error?.properties.code.enum ?? [];
    expect([...codes].sort()).toEqual(Object.keys(ERROR_STATUS).sort());
    // the validator is not vacuous
    expect(checkError({ error: { code: 'internal_error', message: 'x' } })).toBe(false);
    expect(checkError({ error: { code: 'internal' } })).toBe(false);
  });

  it('lists body problems at $-rooted JSON paths', async () => {
    const body = validThirdParty('SHAPE_1') as Record<string, unknown> & { property_details: unknown[] };
    body['odd key'] = 1;
    body.property_details = [];
    const res = await s.call('POST', '/api/v1/customers/SHAPE/third-parties', { token, body });
    const error = refused(res);
    expect(error.code).toBe('validation_failed');
    expect(problemPaths(error.details)).toEqual(
      expect.arrayContaining(['$.property_details', '$["odd key"]']),
    );
  });

  it('lists query string problems at $-rooted JSON paths', async () => {
    const res = await s.call('GET', '/api/v1/customers/SHAPE/third-parties?limit=0', { token });
    const error = refused(res);
    expect(error.details).toMatchObject({ in: 'querystring' });
    expect(problemPaths(error.details)).toEqual(['$.limit']);
  });

  it('answers 401, 404 and 405 in the shape', async () => {
    expect(refused(await s.call('GET', '/api/v1/customers/SHAPE/webhooks')).code).toBe('unauthorized');
    expect(refused(await s.call('GET', '/no/such/route')).code).toBe('not_found');
    expect(refused(await s.call('DELETE', '/readyz')).code).toBe('method_not_allowed');
  });

  it('answers /readyz 503 in the shape, as its OpenAPI entry says', async () => {
    expect(Object.keys(doc.paths['/readyz']?.get?.responses ?? {})).toContain('503');
    const t = await startService();
    await t.store.close();
    const res = await t.call('GET', '/readyz');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(refused(res)).toEqual({ code: 'unavailable', message: 'The database does not answer' });
    await t.app.close();
  });

  it('is also what the receiver kit answers, for each of its codes', () => {
    const codes: ErrorCode[] = [
      'invalid_signature',
      'unreadable_body',
      'bad_request',
      'not_found',
      'method_not_allowed',
      'payload_too_large',
      'unsupported_media_type',
      'inbox_unavailable',
      'internal',
    ];
    for (const code of codes) {
      const response = errorResponse(
        code,
        'Refused',
        code === 'invalid_signature' ? { reason: 'x' } : undefined,
      );
      expect(refusal(response.status, JSON.parse(response.body)).code).toBe(code);
    }
    const invalid = invalidPayloadBody([{ path: '$.data.status', message: 'data.status must be …' }]);
    expect(refusal(400, invalid).code).toBe('invalid_payload');
  });
});
