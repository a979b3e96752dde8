import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BuildInput,
  buildEvent,
  CONTRACT_VERSION,
  ContractError,
  EVENT_TYPE,
  formatEventTimestamp,
  parseEvent,
  type Reason,
} from '../../src/contract/index.js';

const reason: fc.Arbitrary<Reason> = fc.record({
  code: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
  reason: fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
});

/** Every valid input: any id the contract allows, any representable instant, any text. */
const validInput: fc.Arbitrary<BuildInput> = fc
  .record({
    eventId: fc.oneof(fc.uuid(), fc.stringMatching(/^[\x21-\x2D\x2F-\x7E]{1,64}$/)),
    timestamp: fc.date({
      min: new Date('0000-01-01T00:00:00.000Z'),
      max: new Date('9999-12-31T23:59:59.999Z'),
      noInvalidDate: true,
    }),
    customerId: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
    clientCustomerRef: fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
    decision: fc.oneof(
      fc.constant({ status: 'APPROVED' as const }),
      fc.record({
        status: fc.constant('REJECTED' as const),
        reasons: fc.array(reason, { minLength: 1, maxLength: 5 }),
      }),
    ),
  })
  .map(({ decision, ...rest }) => ({ ...rest, ...decision }));

describe('buildEvent', () => {
  it('builds what the seed shows, fields in the seed order', () => {
    const { event, json } = buildEvent({
      eventId: '1',
      timestamp: new Date('2025-01-01T00:00:00.000Z'),
      customerId: '0201001008132685',
      clientCustomerRef: 'CUST_001',
      status: 'REJECTED',
      reasons: [
        {
          code: 'COMPLIANCE_CHECK_FAILED',
          reason: 'Compliance check failed due to validation or regulatory issues',
        },
      ],
    });
    expect(json).toBe(
      '{"event_id":"1","event_type":"THIRD PARTY CUSTOMER STATUS","version":"v1.0.0","event_timestamp":"2025-01-01T00:00:00Z","data":{"customer_id":"0201001008132685","client_customer_ref":"CUST_001","status":"REJECTED","reasons":[{"code":"COMPLIANCE_CHECK_FAILED","reason":"Compliance check failed due to validation or regulatory issues"}]}}',
    );
    expect(event.data.reasons).toHaveLength(1);
  });

  it('defaults the id to a UUID and the timestamp to now, truncated to the second', () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const { event } = buildEvent({ customerId: 'c', clientCustomerRef: 'r', status: 'APPROVED' });
    const after = Date.now();
    expect(event.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const at = Date.parse(event.event_timestamp);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(after);
    expect(event.data).not.toHaveProperty('reasons');
  });

  it('copies only the known fields of the input and of each reason', () => {
    const input = {
      customerId: 'c',
      clientCustomerRef: 'r',
      status: 'REJECTED' as const,
      reasons: [{ code: 'A', reason: 'B', secret: 'x' }],
      password: 'y',
    };
    expect(buildEvent(input).json).not.toMatch(/secret|password/);
  });

  function problemsOf(input: BuildInput): { path: string; message: string }[] {
    try {
      buildEvent(input);
    } catch (error) {
      expect(error).toBeInstanceOf(ContractError);
      return (error as ContractError).problems;
    }
    throw new Error('built an invalid event');
  }

  it('refuses REJECTED without reasons or with none', () => {
    expect(problemsOf({ customerId: 'c', clientCustomerRef: 'r', status: 'REJECTED' })).toEqual([
      {
        path: '$.data.reasons',
        message: expect.stringContaining('is required when data.status is "REJECTED"'),
      },
    ]);
    expect(
      problemsOf({ customerId: 'c', clientCustomerRef: 'r', status: 'REJECTED', reasons: [] })[0]?.message,
    ).toContain('must not be an empty array');
  });

  it('refuses reasons on APPROVED', () => {
    const problems = problemsOf({
      customerId: 'c',
      clientCustomerRef: 'r',
      status: 'APPROVED',
      reasons: [{ code: 'A', reason: 'B' }],
    });
    expect(problems.map((p) => p.path)).toEqual(['$.data.reasons']);
  });

  it('lists every problem with the input, using the event paths', () => {
    const problems = problemsOf({
      eventId: 'a.b',
      timestamp: new Date(Number.NaN),
      customerId: '',
      clientCustomerRef: 'no spaces',
      status: 'PENDING' as never,
    });
    expect(problems.map((p) => p.path).sort()).toEqual(
      [
        '$.event_id',
        '$.event_timestamp',
        '$.data.customer_id',
        '$.data.client_customer_ref',
        '$.data.status',
      ].sort(),
    );
    expect(problems.find((p) => p.path === '$.event_timestamp')?.message).toContain('not a valid Date');
  });

  it('refuses timestamps the format cannot hold', () => {
    const problems = problemsOf({
      timestamp: new Date('+010000-01-01T00:00:00Z'),
      customerId: 'c',
      clientCustomerRef: 'r',
      status: 'APPROVED',
    });
    expect(problems).toEqual([
      { path: '$.event_timestamp', message: expect.stringContaining('year out of range') },
    ]);
  });

  it('the ContractError message names the problems', () => {
    expect(() => buildEvent({ customerId: '', clientCustomerRef: 'r', status: 'APPROVED' })).toThrow(
      /data\.customer_id must not be empty/,
    );
  });

  it('property: whatever it builds, the validator accepts and reads back unchanged', () => {
    fc.assert(
      fc.property(validInput, (input) => {
        const { event, json } = buildEvent(input);
        const parsed = parseEvent(new TextEncoder().encode(json));
        if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
        expect(parsed.event).toEqual(event);
        expect(JSON.parse(json)).toEqual(event);
        expect(event).toMatchObject({
          event_id: input.eventId,
          event_type: EVENT_TYPE,
          version: CONTRACT_VERSION,
          event_timestamp: formatEventTimestamp(input.timestamp as Date),
          data: {
            customer_id: input.customerId,
            client_customer_ref: input.clientCustomerRef,
            status: input.status,
          },
        });
        expect(event.data.reasons).toEqual(input.reasons);
        expect(Date.parse(event.event_timestamp)).toBe(
          Math.floor((input.timestamp as Date).getTime() / 1000) * 1000,
        );
      }),
      { numRuns: 500 },
    );
  });

  it('property: on any input it either builds a valid event or throws a ContractError with problems', () => {
    const anyText = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('', 'a.b', 'A_1', ' ', 'é'));
    const anyInput = fc.record(
      {
        eventId: anyText,
        timestamp: fc.date(),
        customerId: anyText,
        clientCustomerRef: anyText,
        status: fc.constantFrom('APPROVED', 'REJECTED', 'PENDING'),
        reasons: fc.array(fc.record({ code: anyText, reason: anyText }), { maxLength: 2 }),
      },
      { requiredKeys: ['customerId', 'clientCustomerRef', 'status'] },
    ) as fc.Arbitrary<BuildInput>;
    fc.assert(
      fc.property(anyInput, (input) => {
        try {
          const { json } = buildEvent(input);
          expect(parseEvent(json).ok).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(ContractError);
          expect((error as ContractError).problems.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});
