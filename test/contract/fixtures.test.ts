import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixtures, parseEvent } from '../../src/contract/index.js';

const files = {
  payload: 'payload.json',
  rejected: 'rejected.json',
  approved: 'approved.json',
  rejectedPretty: 'rejected.pretty.json',
  approvedPretty: 'approved.pretty.json',
} as const;

function fixtureFile(file: string): string {
  return readFileSync(new URL(`../../src/contract/fixtures/${file}`, import.meta.url), 'utf8');
}

describe('seed fixtures', () => {
  it('has one fixture per file, byte for byte', () => {
    expect(Object.keys(fixtures).sort()).toEqual(Object.keys(files).sort());
    for (const [name, file] of Object.entries(files)) {
      expect(fixtures[name as keyof typeof fixtures], name).toBe(fixtureFile(file));
    }
  });

  it.each(Object.keys(files))('%s is a valid event', (name) => {
    const result = parseEvent(fixtures[name as keyof typeof fixtures]);
    expect(result).toMatchObject({ ok: true });
  });

  it('keeps the seed texts exactly (accordion one-liners, no trailing newline)', () => {
    expect(fixtures.approved).toBe(
      '{ "event_id": "3", "event_type": "THIRD PARTY CUSTOMER STATUS", "version": "v1.0.0", "event_timestamp": "2025-01-01T00:00:00Z", "data": { "customer_id": "0201001008132685", "client_customer_ref": "CUST_001", "status": "APPROVED" } }',
    );
    expect(fixtures.rejected.startsWith('{ "event_id": "1", ')).toBe(true);
    expect(fixtures.rejected).toContain('"reasons": [ { "reason": "Compliance check failed');
    expect(fixtures.payload.split('\n')).toHaveLength(11);
    expect(fixtures.rejectedPretty.split('\n')).toHaveLength(17);
  });

  it('pretty listings are the same events as the one-line examples', () => {
    expect(JSON.parse(fixtures.rejectedPretty)).toEqual(JSON.parse(fixtures.rejected));
    expect(JSON.parse(fixtures.approvedPretty)).toEqual(JSON.parse(fixtures.approved));
  });

  it('the seed "Payload" is a REJECTED event without reasons, which receivers accept', () => {
    const result = parseEvent(fixtures.payload);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.event.data.status).toBe('REJECTED');
    expect(result.event.data.reasons).toBeUndefined();
    expect(result.event.event_id).toBe('550e8400-e29b-41d4-a716-446655440000');
  });
});
