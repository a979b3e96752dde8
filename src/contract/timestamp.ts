/**
 * The event's timestamp format: `YYYY-MM-DDTHH:MM:SSZ`, UTC, whole seconds, as the seed specifies.
 *
 * A fixed-width format means two valid timestamps compare correctly as plain strings, which the
 * receiver relies on to spot stale events without building `Date` objects.
 */

/**
 * The exact shape, with field ranges (month 01–12, day 01–31, hour 00–23, minute and second 00–59).
 * It cannot know that February has 28 or 29 days: {@link eventTimestampProblem} checks that.
 * Leap seconds (`:60`) are refused: JavaScript dates cannot represent them.
 */
export const EVENT_TIMESTAMP_PATTERN =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$/;

/** The shape alone, to tell a malformed string from a well-formed one naming an impossible instant. */
const LOOSE_SHAPE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Says what is wrong with a candidate `event_timestamp`, or returns `undefined` when it is valid.
 * The message is a predicate meant to follow the field name.
 *
 * @example
 * eventTimestampProblem('2025-01-01T00:00:00Z'); // undefined
 * eventTimestampProblem('2025-02-30T10:00:00Z'); // 'is not a real instant: February 2025 has 28 days, …'
 */
export function eventTimestampProblem(value: string): string | undefined {
  // Fast path for the common case (this runs on every request): the pattern already bounds every
  // field, and days up to 28 exist in every month.
  if (EVENT_TIMESTAMP_PATTERN.test(value) && value.charCodeAt(8) <= 0x32 /* "2" */) {
    const day = (value.charCodeAt(8) - 0x30) * 10 + value.charCodeAt(9) - 0x30;
    if (day <= 28) return undefined;
  }
  const shape = LOOSE_SHAPE.exec(value);
  if (shape === null) {
    return `must be a UTC timestamp formatted as YYYY-MM-DDTHH:MM:SSZ (whole seconds, e.g. "2025-01-01T00:00:00Z"), but is ${JSON.stringify(truncate(value))}`;
  }
  const [, y, mo, d, h, mi, s] = shape.map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const notReal = `is not a real instant (${JSON.stringify(value)}): `;
  if (mo < 1 || mo > 12) return `${notReal}there is no month ${mo}`;
  const monthName = MONTH_NAMES[mo - 1] as string;
  const days = daysInMonth(y, mo);
  if (d < 1 || d > days) return `${notReal}${monthName} ${y} has ${days} days, so day ${d} does not exist`;
  if (h > 23) return `${notReal}hours go from 00 to 23`;
  if (mi > 59) return `${notReal}minutes go from 00 to 59`;
  if (s > 59) return `${notReal}seconds go from 00 to 59 (leap seconds are not supported)`;
  return undefined;
}

/**
 * Whether `value` is a valid `event_timestamp`: the right shape and an instant that exists.
 *
 * @example
 * isEventTimestamp('2024-02-29T23:59:59Z'); // true (leap year)
 * isEventTimestamp('2025-02-29T23:59:59Z'); // false
 */
export function isEventTimestamp(value: string): boolean {
  return EVENT_TIMESTAMP_PATTERN.test(value) && eventTimestampProblem(value) === undefined;
}

/**
 * Formats a date as an `event_timestamp`: `YYYY-MM-DDTHH:MM:SSZ` in UTC. Milliseconds are
 * truncated, not rounded, so an event is never stamped later than the moment it was built.
 * Throws a `RangeError` for an invalid date or a year outside 0000–9999 (the format has four digits).
 *
 * @example
 * formatEventTimestamp(new Date(Date.UTC(2025, 0, 1, 10, 30, 0, 999))); // '2025-01-01T10:30:00Z'
 */
export function formatEventTimestamp(d: Date): string {
  const time = d instanceof Date ? d.getTime() : Number.NaN;
  if (Number.isNaN(time)) throw new RangeError('formatEventTimestamp: not a valid Date');
  const iso = d.toISOString();
  // Years outside 0000–9999 come out as "+010000-…" or "-000001-…", which the format cannot hold.
  if (iso.length !== 24) throw new RangeError(`formatEventTimestamp: year out of range 0000–9999 (${iso})`);
  return `${iso.slice(0, 19)}Z`;
}

/**
 * Reads a valid `event_timestamp` back into a `Date`; `undefined` when it is not valid.
 *
 * @example
 * parseEventTimestamp('2025-07-17T10:30:00Z')?.getTime(); // 1752748200000
 */
export function parseEventTimestamp(value: string): Date | undefined {
  if (!isEventTimestamp(value)) return undefined;
  // The ISO date-time form is parsed as written (no two-digit-year guessing, Z means UTC).
  return new Date(value);
}

function truncate(value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value;
}
