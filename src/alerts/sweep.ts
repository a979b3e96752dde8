/**
 * The sweep: what the alert rules must look at again even though no completion was seen in this
 * process. Two kinds:
 *
 * - Endpoints failing now, or followed as failing by the alerts: the hourly `endpoint.failing`, the
 *   disabling warning, and the state transitions a crash (or another process) kept from the recorder.
 * - Deliveries failed for good without a `delivery.failed` alert for that failure: what a crash
 *   between the queue's commit and the recorder's write lost. Walked from a watermark stored in the
 *   database, so a restart after a long outage still finds them; the walk starts a little before it,
 *   because a completion is stamped before it commits and processes' clocks differ. The store keeps at
 *   most one alert per failure and channel, so a sweep racing the recorder never tells one twice.
 */
import type { AlertObservation, NewAlert, Store } from '../storage/store.js';

type Decide = Parameters<Store['observeEndpointAlerts']>[1];

/** How far before the watermark the walk starts again. */
export const SWEEP_OVERLAP_MS = 10 * 60_000;
/** Failed deliveries read per page (each page is one observing transaction). */
const PAGE = 500;

/**
 * Runs one sweep; returns the alerts it wrote.
 *
 * @example
 * const written = await sweepAlerts(store, (view) => decideAlerts(view, { failureWindowMs, now: new Date(), newId: randomUUID }));
 */
export async function sweepAlerts(store: Store, decide: Decide, now: Date = new Date()): Promise<NewAlert[]> {
  const written: NewAlert[] = [];
  const candidates = await store.alertCandidates();
  written.push(
    ...(await store.observeEndpointAlerts(
      candidates.map((endpointId) => ({ endpointId, failedDeliveryIds: [], disabledReason: null })),
      decide,
    )),
  );

  const watermark = await store.alertSweepWatermark();
  let after = { at: new Date(watermark.getTime() - SWEEP_OVERLAP_MS), deliveryId: '' };
  for (;;) {
    const failures = await store.unalertedFailures(after, PAGE);
    if (failures.length > 0) {
      const byEndpoint = new Map<string, string[]>();
      for (const f of failures)
        byEndpoint.set(f.endpointId, [...(byEndpoint.get(f.endpointId) ?? []), f.deliveryId]);
      const observations: AlertObservation[] = [...byEndpoint].map(([endpointId, failedDeliveryIds]) => ({
        endpointId,
        failedDeliveryIds,
        disabledReason: null,
      }));
      written.push(...(await store.observeEndpointAlerts(observations, decide)));
    }
    const last = failures.at(-1);
    if (failures.length < PAGE || last === undefined) break;
    // a failure the partner wants no alert for stays unalerted: the walk moves past it
    after = { at: last.failedAt, deliveryId: last.deliveryId };
  }
  await store.advanceAlertSweepWatermark(now);
  return written;
}
