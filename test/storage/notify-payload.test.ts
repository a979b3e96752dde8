/**
 * Which PostgreSQL NOTIFYs wake a storage's listeners (src/storage/postgres/notify.ts): another
 * storage's for the same schema, never its own (its listeners heard that commit from its signal) and
 * never another schema's. Payloads come from any program on the database: a property test feeds it
 * any text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { notifiedByOther } from '../../src/storage/postgres/notify.js';
import { QueueSignal } from '../../src/storage/signal.js';

describe('notifiedByOther', () => {
  const own = new QueueSignal().source;
  const other = new QueueSignal().source;

  it("wakes for another storage's NOTIFY of the same schema, and for one without a source", () => {
    expect(own).toMatch(/^[0-9a-f]{12}$/);
    expect(other).not.toBe(own);
    expect(notifiedByOther(`${other}:tpcs_a`, 'tpcs_a', own)).toBe(true);
    // as sent before sources were: the schema alone
    expect(notifiedByOther('tpcs_a', 'tpcs_a', own)).toBe(true);
    expect(notifiedByOther(`${other}:public:x`, 'public:x', own)).toBe(true);
  });

  it('stays asleep for its own NOTIFY and for other schemas', () => {
    expect(notifiedByOther(`${own}:tpcs_a`, 'tpcs_a', own)).toBe(false);
    expect(notifiedByOther(`${other}:tpcs_b`, 'tpcs_a', own)).toBe(false);
    expect(notifiedByOther('tpcs_b', 'tpcs_a', own)).toBe(false);
    expect(notifiedByOther(`:tpcs_a`, 'tpcs_a', own)).toBe(false);
    expect(notifiedByOther('', 'tpcs_a', own)).toBe(false);
  });

  it('tells sources apart whatever the schema is called, and never wakes for a payload naming another', () => {
    const source = fc.stringMatching(/^[0-9a-f]{12}$/);
    fc.assert(
      fc.property(source, fc.string({ minLength: 1 }), (from, schema) => {
        expect(notifiedByOther(`${from}:${schema}`, schema, own)).toBe(from !== own);
        expect(notifiedByOther(`${own}:${schema}`, schema, own)).toBe(false);
      }),
    );
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), (payload, schema) => {
        fc.pre(payload !== schema && !payload.endsWith(`:${schema}`));
        expect(notifiedByOther(payload, schema, own)).toBe(false);
      }),
    );
  });
});
