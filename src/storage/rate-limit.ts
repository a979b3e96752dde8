/**
 * An endpoint's rate limit as the claim enforces it: GCRA (the generic cell rate algorithm), one
 * timestamp per endpoint, written by the claim in the same transaction as the leases it hands out, so
 * every dispatcher process shares one budget. SQLite runs these functions inside its claim; PostgreSQL's
 * `tpcs_claim` (migration 018) runs the same arithmetic in SQL.
 *
 * Terms
 * - Rate `r`: deliveries per second; the interval `T` = 1 s / r.
 * - TAT (theoretical arrival time, `endpoints.rate_tat`): when the endpoint's budget is back to empty
 *   debt; null for an endpoint never claimed since its limit was set. Each delivery leased moves it
 *   `T` later, from no earlier than now.
 * - Burst `B` = ceil(r / 10): 100 ms' worth, at least one. An idle endpoint may take B at once, so in
 *   any window of `w` seconds at most `r·w + B` attempts start: a receiver sees at most 10% over its
 *   limit in any one second, and a benchmark run of a few seconds stays within a few percent. It also
 *   gives the dispatcher 100 ms of tokens to collect between claims (it claims when half a burst is
 *   due, see {@link rateSlotAt}), so a late timer or a slow claim does not lose any of the rate. A
 *   second's worth would let a receiver get twice its limit in the first second after a pause.
 * - Batch `ceil(B / 2)`: the fewest deliveries a claim hands the endpoint. Claims come as often as
 *   completions free slots (hundreds a second under load); without it each would take the one token
 *   due since the last, and pay the endpoint's read and its budget's write for one delivery. With it,
 *   a limited endpoint is served about 20 times a second, half a burst at a time, and the burst still
 *   holds twice that, so the rate is kept.
 */

/** How many deliveries an idle endpoint limited to `rate` per second may take at once. */
export function rateBurst(rate: number): number {
  return Math.max(1, Math.ceil(rate / 10));
}

/** Absorbs floating-point error in `(tat - at) · r`, so that an exact multiple of T counts whole. */
const EPSILON = 1e-9;

/** The fewest deliveries a claim hands an endpoint limited to `rate`: half its burst, at least one. */
export function rateBatch(rate: number): number {
  return Math.ceil(rateBurst(rate) / 2);
}

/**
 * How many deliveries the endpoint may start at `atMs`: `floor((at + B·T - max(tat, at)) / T)`, from 0
 * to the burst, or 0 while that is less than a {@link rateBatch}.
 *
 * @example
 * rateRoom(20, null, 1000); // 2: idle, a whole burst
 * rateRoom(20, 1100, 1000); // 0: 100 ms of debt is a whole burst at 50 ms each
 * rateRoom(200, 1055, 1000); // 0: 9 due, fewer than a batch of 10
 */
export function rateRoom(rate: number, tatMs: number | null, atMs: number): number {
  const debtMs = Math.max(0, (tatMs ?? atMs) - atMs);
  const due = Math.floor(rateBurst(rate) - (debtMs * rate) / 1000 + EPSILON);
  return due >= rateBatch(rate) ? due : 0;
}

/** The TAT after leasing `n` deliveries at `atMs`. */
export function nextTat(rate: number, tatMs: number | null, atMs: number, n: number): number {
  return Math.max(tatMs ?? atMs, atMs) + (n * 1000) / rate;
}

/**
 * When the endpoint next has room: when a {@link rateBatch} is due again, `tat - (B - ceil(B/2))·T`.
 * The dispatcher sleeps until then; it is at most 50 ms after the last batch, and the burst holds
 * another 50 ms' worth, so a timer that fires late loses none of the rate.
 */
export function rateSlotAt(rate: number, tatMs: number): number {
  return tatMs - ((rateBurst(rate) - rateBatch(rate)) * 1000) / rate;
}

/**
 * The earliest {@link rateSlotAt} later than `afterMs` (a claim's time) of these endpoints (their rate
 * and TAT), or null. A slot before that claim was that claim's to use: if the endpoint still has
 * deliveries, something else holds them back (its in-flight bound, a lease), and a completion wakes
 * the dispatcher for those.
 */
export function earliestRateSlot(
  endpoints: readonly { rate: number; tatMs: number }[],
  afterMs: number,
): Date | null {
  let earliest = Number.POSITIVE_INFINITY;
  for (const e of endpoints) {
    const at = rateSlotAt(e.rate, e.tatMs);
    if (at > afterMs && at < earliest) earliest = at;
  }
  return earliest === Number.POSITIVE_INFINITY ? null : new Date(earliest);
}
