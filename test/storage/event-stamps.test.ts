/**
 * The PostgreSQL store's memory of the last event_timestamp it wrote per third party
 * (src/storage/postgres/decisions.ts, EventStamps): where a decision's event is first built.
 */
import { describe, expect, it } from 'vitest';
import { EventStamps } from '../../src/storage/postgres/decisions.js';
import { decision } from '../support/fixtures.js';

const at = new Date('2024-05-02T10:00:00.400Z');
const stamp = (d: ReturnType<typeof decision>, stamps: EventStamps) =>
  stamps.firstBuild(d).eventAt.toISOString();

describe('EventStamps', () => {
  it("builds after the last event remembered for the decision's own third party, else after none", () => {
    const stamps = new EventStamps();
    stamps.remember(decision('P1', 'A', 'APPROVED', null, at), new Date('2024-05-02T10:00:02Z'));
    expect(stamp(decision('P1', 'A', 'REJECTED', null, at), stamps)).toBe('2024-05-02T10:00:03.000Z');
    expect(stamp(decision('P1', 'B', 'REJECTED', null, at), stamps)).toBe('2024-05-02T10:00:00.000Z');
    expect(stamp(decision('P2', 'A', 'REJECTED', null, at), stamps)).toBe('2024-05-02T10:00:00.000Z');
  });

  it('builds after none when building after the remembered one refuses (too far ahead)', () => {
    const stamps = new EventStamps();
    const d = decision('P1', 'A', 'REJECTED', null, at);
    stamps.remember(d, new Date('2024-05-02T10:05:00Z'));
    const seen: (Date | null)[] = [];
    const refusesAhead = {
      ...d,
      buildEvent: (previous: Date | null) => {
        seen.push(previous);
        if (previous !== null) throw new Error('too far ahead');
        return d.buildEvent(previous);
      },
    };
    expect(stamps.firstBuild(refusesAhead).eventAt.toISOString()).toBe('2024-05-02T10:00:00.000Z');
    expect(seen).toEqual([new Date('2024-05-02T10:05:00Z'), null]);
  });

  it('keeps the most recently written, forgetting the least recently written past its size', () => {
    const stamps = new EventStamps(2);
    const later = new Date('2024-05-02T10:00:05Z');
    stamps.remember(decision('P', 'A', 'APPROVED', null, at), later);
    stamps.remember(decision('P', 'B', 'APPROVED', null, at), later);
    stamps.remember(decision('P', 'A', 'REJECTED', null, at), later); // A written again: now the most recent
    stamps.remember(decision('P', 'C', 'APPROVED', null, at), later); // B forgotten
    expect(stamp(decision('P', 'A', 'APPROVED', null, at), stamps)).toBe('2024-05-02T10:00:06.000Z');
    expect(stamp(decision('P', 'B', 'REJECTED', null, at), stamps)).toBe('2024-05-02T10:00:00.000Z');
    expect(stamp(decision('P', 'C', 'REJECTED', null, at), stamps)).toBe('2024-05-02T10:00:06.000Z');
  });
});
