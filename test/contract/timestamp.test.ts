import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EVENT_TIMESTAMP_PATTERN,
  formatEventTimestamp,
  isEventTimestamp,
  parseEventTimestamp,
} from '../../src/contract/index.js';

const representable = fc.date({
  min: new Date('0000-01-01T00:00:00.000Z'),
  max: new Date('9999-12-31T23:59:59.999Z'),
  noInvalidDate: true,
});

describe('event timestamps', () => {
  it('formats in UTC with whole seconds, truncating milliseconds', () => {
    expect(formatEventTimestamp(new Date(Date.UTC(2025, 0, 1, 10, 30, 0, 999)))).toBe('2025-01-01T10:30:00Z');
    expect(formatEventTimestamp(new Date('2025-07-17T12:30:00+02:00'))).toBe('2025-07-17T10:30:00Z');
  });

  it('refuses dates the format cannot hold', () => {
    expect(() => formatEventTimestamp(new Date(Number.NaN))).toThrow(RangeError);
    expect(() => formatEventTimestamp(new Date('+010000-01-01T00:00:00Z'))).toThrow(/year out of range/);
    expect(() => formatEventTimestamp(new Date('-000001-01-01T00:00:00Z'))).toThrow(/year out of range/);
  });

  it('property: formatting then parsing gives the instant truncated to the second', () => {
    fc.assert(
      fc.property(representable, (date) => {
        const text = formatEventTimestamp(date);
        expect(text).toMatch(EVENT_TIMESTAMP_PATTERN);
        expect(isEventTimestamp(text)).toBe(true);
        expect(parseEventTimestamp(text)?.getTime()).toBe(Math.floor(date.getTime() / 1000) * 1000);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: a well-shaped string is valid exactly when the calendar has that instant', () => {
    const pad = (n: number, width: number) => String(n).padStart(width, '0');
    const shaped = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 14 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 61 }),
        fc.integer({ min: 0, max: 61 }),
      )
      .map(
        ([y, mo, d, h, mi, s]) =>
          `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}Z`,
      );
    fc.assert(
      fc.property(shaped, (text) => {
        // The oracle: JavaScript's own calendar arithmetic, via Date.UTC, which rolls impossible dates over.
        const [y, mo, d, h, mi, s] = text.match(/\d+/g)?.map(Number) ?? [];
        const date = new Date(0);
        date.setUTCFullYear(y as number, (mo as number) - 1, d as number);
        date.setUTCHours(h as number, mi as number, s as number, 0);
        const exists =
          date.getUTCFullYear() === y &&
          date.getUTCMonth() === (mo as number) - 1 &&
          date.getUTCDate() === d &&
          date.getUTCHours() === h &&
          date.getUTCMinutes() === mi &&
          date.getUTCSeconds() === s;
        expect(isEventTimestamp(text)).toBe(exists);
        expect(parseEventTimestamp(text)?.getTime()).toBe(exists ? date.getTime() : undefined);
      }),
      { numRuns: 3000 },
    );
  });
});
