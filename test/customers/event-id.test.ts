/**
 * Event ids (src/customers/decisions.ts eventIdFor): UUIDv7s whose time field falls in the event's own
 * second, all distinct, with random bits drawn from a pool the ids share (refilled every 256 ids).
 */
import { describe, expect, it } from 'vitest';
import { eventIdFor } from '../../src/customers/decisions.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The 48-bit millisecond time field of a UUIDv7. */
const msecsOf = (id: string) => Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);

describe('eventIdFor', () => {
  it('gives distinct UUIDv7s timed within the event second, past several refills of its random pool', () => {
    const past = new Date('2024-05-02T10:00:00Z');
    const ids = Array.from({ length: 2000 }, () => eventIdFor(past));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(UUID_V7);
      // an event stamped in the past: its id says the last millisecond of that second
      expect(msecsOf(id)).toBe(past.getTime() + 999);
    }
    // the random bits (the last 62) differ from id to id, not only the sequence
    const tails = new Set(ids.map((id) => id.slice(-12)));
    expect(tails.size).toBe(ids.length);
  });

  it('times an event of the current second now, and one ahead of the clock at its start', () => {
    const second = Math.floor(Date.now() / 1000) * 1000;
    const before = Date.now();
    const id = eventIdFor(new Date(second));
    const now = msecsOf(id);
    expect(now).toBeGreaterThanOrEqual(Math.min(before, second + 999));
    expect(now).toBeLessThanOrEqual(second + 999);
    const ahead = new Date(second + 5000);
    expect(msecsOf(eventIdFor(ahead))).toBe(ahead.getTime());
  });
});
