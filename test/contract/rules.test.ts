import { describe, expect, it } from 'vitest';
import {
  fixtures,
  jsonPath,
  MAX_PROBLEMS,
  parseEvent,
  type ThirdPartyCustomerStatusEvent,
  validateEvent,
} from '../../src/contract/index.js';
import { bytes, utf8, withChange } from './helpers.js';

function accepted(body: string | Uint8Array): ThirdPartyCustomerStatusEvent {
  const result = parseEvent(body);
  if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.problems)}`);
  return result.event;
}

describe('what receivers accept', () => {
  it('accepts bytes and strings alike', () => {
    expect(accepted(utf8(fixtures.rejected))).toEqual(accepted(fixtures.rejected));
  });

  it('accepts and ignores one leading UTF-8 byte order mark, as bytes or as text', () => {
    expect(accepted(bytes([0xef, 0xbb, 0xbf], utf8(fixtures.approved)))).toEqual(
      JSON.parse(fixtures.approved),
    );
    expect(accepted(`\uFEFF${fixtures.approved}`)).toEqual(JSON.parse(fixtures.approved));
  });

  it('accepts JSON whitespace around the document', () => {
    accepted(`\r\n\t ${fixtures.approved} \n`);
  });

  it('accepts any v1 minor or patch version and keeps unknown fields everywhere', () => {
    const body = withChange((e) => {
      e.version = 'v1.12.3';
      e.trace = { id: 'abc', nested: [1, { deep: true }] };
      e.data.risk_score = 0.3;
      e.data.reasons = [{ code: 'A', reason: 'B', details: { field: 'dob' } }];
    });
    const event = accepted(body);
    expect(event).toEqual(JSON.parse(body));
    expect(event.trace).toEqual({ id: 'abc', nested: [1, { deep: true }] });
    expect(event.data.reasons?.[0]?.details).toEqual({ field: 'dob' });
  });

  it('accepts REJECTED without reasons and APPROVED without reasons', () => {
    accepted(withChange((e) => delete e.data.reasons));
    accepted(fixtures.approved);
  });

  it('accepts leap days and the ends of the ranges', () => {
    for (const ts of [
      '2024-02-29T23:59:59Z',
      '2000-02-29T00:00:00Z',
      '0000-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
    ]) {
      accepted(withChange((e) => (e.event_timestamp = ts)));
    }
  });

  it('accepts event ids the seed uses and visible ASCII ids', () => {
    for (const id of [
      '1',
      '550e8400-e29b-41d4-a716-446655440000',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      '!~#$%&()*+,-/:;<=>?@[]^_`{|}',
    ]) {
      accepted(withChange((e) => (e.event_id = id)));
    }
  });

  it('accepts escaped characters and non-ASCII text where the contract allows it', () => {
    const body = withChange((e) => {
      e.data.customer_id = 'ΑΒΓ-😀';
      e.data.reasons = [{ code: 'X', reason: 'Line 1\nLine "2" \\ é' }];
    });
    expect(accepted(body).data.reasons?.[0]?.reason).toBe('Line 1\nLine "2" \\ é');
  });

  it('accepts deeply nested unknown fields without overflowing the stack', () => {
    const depth = 50_000;
    const body = fixtures.approved.replace(
      '"event_id": "3",',
      `"event_id": "3", "x": ${'['.repeat(depth)}${']'.repeat(depth)},`,
    );
    expect(accepted(body).event_id).toBe('3');
  });
});

describe('what receivers refuse', () => {
  it('returns every problem, not only the first', () => {
    const result = parseEvent(
      withChange((e) => {
        e.event_id = 'a.b';
        e.event_type = 'OTHER';
        e.version = '1';
        e.event_timestamp = '2025-02-30T00:00:00Z';
        e.data = { customer_id: '', client_customer_ref: 'a b', status: 'APPROVED', reasons: [{ code: 1 }] };
      }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.path)).toEqual([
      '$.event_id',
      '$.event_type',
      '$.version',
      '$.event_timestamp',
      '$.data.customer_id',
      '$.data.client_customer_ref',
      '$.data.reasons[0].code',
      '$.data.reasons[0].reason',
      '$.data.reasons',
    ]);
  });

  it('reports duplicate keys together with schema problems', () => {
    const body = fixtures.approved.replace('"event_id": "3",', '"event_id": "3", "event_id": 4,');
    const result = parseEvent(body);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.path)).toEqual(['$.event_id', '$.event_id']);
    expect(result.problems[0]?.message).toContain('more than once');
    expect(result.problems[1]?.message).toContain('must be a string');
  });

  it('caps the number of problems so a hostile body cannot inflate the answer', () => {
    const body = withChange((e) => (e.data.reasons = Array.from({ length: 500 }, () => ({}))));
    const result = parseEvent(body);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(MAX_PROBLEMS);
    expect(result.problems.at(-1)?.message).toContain(`${1000 - (MAX_PROBLEMS - 1)} more problems`);
  });

  it('never echoes a long value in full', () => {
    const result = parseEvent(withChange((e) => (e.data.status = 'X'.repeat(10_000))));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]?.message.length).toBeLessThan(300);
  });

  it('validateEvent checks values that are already parsed, and never throws', () => {
    expect(validateEvent(JSON.parse(fixtures.approved)).ok).toBe(true);
    for (const value of [undefined, null, 1n, Symbol('x'), () => 1, [fixtures.approved]]) {
      const result = validateEvent(value);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.problems[0]?.path).toBe('$');
    }
    for (const value of [new Date(), Object.create(null)]) {
      const result = validateEvent(value);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.problems.map((p) => p.path)).toContain('$.event_id');
    }
  });
});

describe('JSON paths', () => {
  it('formats identifiers, odd keys and indexes', () => {
    expect(jsonPath([])).toBe('$');
    expect(jsonPath(['data', 'reasons', 0, 'code'])).toBe('$.data.reasons[0].code');
    expect(jsonPath(['a b', 'x"y', '1st'])).toBe('$["a b"]["x\\"y"]["1st"]');
  });
});
