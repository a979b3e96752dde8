/**
 * The one error vocabulary (src/errors): codes and their statuses, the error body, JSON paths. The
 * API and the receiver kit both answer with it (test/http/error-shape.test.ts checks the answers).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseEvent } from '../../src/contract/index.js';
import { ERROR_STATUS, errorBody, isErrorCode, jsonPath } from '../../src/errors/index.js';
import { problemsFromIssues } from '../../src/http/errors.js';

describe('the error vocabulary', () => {
  it('imports nothing, so the runtime-agnostic receiver core can use it', () => {
    const source = readFileSync(new URL('../../src/errors/index.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^\s*import\s/m);
    expect(source).not.toMatch(/\brequire\(|\bimport\(/);
  });

  it('holds the codes of the API and of the receiver, each with one status', () => {
    expect(ERROR_STATUS).toMatchObject({
      bad_request: 400,
      validation_failed: 400,
      invalid_payload: 400,
      unauthorized: 401,
      invalid_signature: 401,
      not_found: 404,
      internal: 500,
      unavailable: 503,
      inbox_unavailable: 503,
    });
    expect(ERROR_STATUS).not.toHaveProperty('internal_error');
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      expect(code, code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(status >= 400 && status < 600, code).toBe(true);
    }
    expect(isErrorCode('invalid_signature')).toBe(true);
    expect(isErrorCode('internal_error')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });

  it('makes the one body shape, with details only when given', () => {
    expect(errorBody('not_found', 'No such thing')).toEqual({
      error: { code: 'not_found', message: 'No such thing' },
    });
    expect(JSON.stringify(errorBody('not_found', 'x', undefined))).toBe(
      '{"error":{"code":"not_found","message":"x"}}',
    );
    expect(errorBody('invalid_signature', 'No match', { reason: 'no_match' })).toEqual({
      error: { code: 'invalid_signature', message: 'No match', details: { reason: 'no_match' } },
    });
  });

  it('writes JSON paths from the root: $.a.b[0], with keys that are not identifiers quoted', () => {
    expect(jsonPath([])).toBe('$');
    expect(jsonPath(['data', 'reasons', 0, 'code'])).toBe('$.data.reasons[0].code');
    expect(jsonPath([0, 'a'])).toBe('$[0].a');
    expect(jsonPath(['a/b', 'x y', '0'])).toBe('$["a/b"]["x y"]["0"]');
    expect(jsonPath(['a"b'])).toBe('$["a\\"b"]');
  });

  it('gives the same path to the same place from the API validator and from the contract parser', () => {
    const api = problemsFromIssues(
      z
        .object({ data: z.object({ reasons: z.array(z.object({ code: z.string() })) }) })
        .safeParse({ data: { reasons: [{ code: 1 }] } }).error?.issues ?? [],
    );
    expect(api.map((p) => p.path)).toEqual(['$.data.reasons[0].code']);
    const contract = parseEvent(
      JSON.stringify({
        event_id: 'e',
        event_type: 'THIRD PARTY CUSTOMER STATUS',
        event_timestamp: '2025-01-01T00:00:00Z',
        version: 'v1.0.0',
        data: {
          customer_id: '1',
          client_customer_ref: 'R',
          status: 'REJECTED',
          reasons: [{ code: 1, reason: 'r' }],
        },
      }),
    );
    expect(contract.ok).toBe(false);
    if (!contract.ok) expect(contract.problems.map((p) => p.path)).toContain('$.data.reasons[0].code');
  });

  it('lists unknown keys one by one, at their own path', () => {
    const problems = problemsFromIssues(
      z.strictObject({ a: z.string() }).safeParse({ a: 'x', 'odd key': 1, b: 2 }).error?.issues ?? [],
    );
    expect(problems).toEqual([
      { path: '$["odd key"]', message: 'Unknown field' },
      { path: '$.b', message: 'Unknown field' },
    ]);
  });
});
