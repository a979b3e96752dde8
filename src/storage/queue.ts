/**
 * The delivery queue: what the dispatcher needs from the database, one dialect-neutral interface
 * implemented by `sqlite/queue.ts` and `postgres/queue.ts`.
 *
 * Glossary (see store.ts for the rest)
 * - Claim: taking due deliveries with a lease (`locked_by` = the worker id, `locked_until` = now +
 *   lease). A claimed delivery is attempted by that worker only; a lease that expires (the worker
 *   died) makes it claimable again, so a crash loses nothing (at-least-once).
 * - Due: `pending`, `next_attempt_at <= now`, lease free, endpoint enabled and not throttled.
 * - Head: the earliest pending delivery of its ordering key (endpoint + customer_id +
 *   client_customer_ref, by event seq). Only heads are claimed, so one third-party customer's events
 *   reach an endpoint in order while different customers never wait for each other.
 * - In flight: claimed and not yet completed. At most `perEndpoint` per endpoint, so a slow or dead
 *   endpoint holds a bounded share of the workers' slots, and at most `perPartner` per partner (all of
 *   its endpoints together), so a partner with many slow endpoints cannot take every slot either.
 * - Partner share: a claim hands out its `limit` across partners in turns (each partner's first
 *   delivery before any partner's second, …), so a partner with a large backlog cannot fill a batch
 *   while another partner's deliveries wait for the next one.
 * - Completion: one attempt recorded and the delivery's outcome written in one transaction; the
 *   failure is written to the row (status, next_attempt_at), never thrown. Every recorded attempt
 *   counts in `attempt_count`, also one completed after its lease expired (which settles nothing else).
 * - Retry round: the attempts since the delivery was last recovered (`attempt_count -
 *   retry_round_start`); the retry schedule follows them, so a recover restarts the schedule.
 * - Throttle: after 429/502/503/504 the endpoint is not claimed until `throttled_until`.
 * - Rate limit: an endpoint with `rate_limit` gets at most that many deliveries a second from all
 *   claims together (plus a burst of a tenth of it): its room in a claim is also bounded by its budget,
 *   spent in the claim's own transaction (GCRA, rate-limit.ts). Only heads are handed out, as ever, so
 *   order per third party holds; the limit only makes the endpoint's room smaller.
 * - Failing since: the time of the first failed attempt after the endpoint's last success; an
 *   endpoint failing for longer than the window is disabled, with the reason.
 */
import type { Delivery } from './store.js';

/** One claimed delivery, with everything needed to send it. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  eventSeq: number;
  endpointId: string;
  customerId: string;
  clientCustomerRef: string;
  url: string;
  /** The event's stored JSON text, sent byte for byte. */
  payload: string;
  /** The endpoint's active secrets, newest first. */
  secrets: string[];
  /** Attempts made before this one, in all (0: this is the first attempt ever). */
  attemptCount: number;
  /**
   * `attemptCount` when the current retry round began: 0, or the count at the last recover. The retry
   * schedule counts the attempts since then, so a recovered delivery gets the whole schedule again.
   */
  retryRoundStart: number;
  /** When the delivery was written (the decision's commit), for commit-to-delivery latency. */
  createdAt: Date;
}

/**
 * What a claim hands out, and `more`: whether it left due heads unclaimed for lack of room (an
 * endpoint's or a partner's bound, a rate limit, the batch limit), or may have. False means every due
 * head of the partners it served was handed out, so a completion that only frees a slot finds nothing
 * new: the dispatcher claims again after a completion only when `more` was true or the completion
 * promoted a head ({@link CompleteResult}). Heads no claim can take yet (a throttled endpoint's) may make
 * it true: a claim too many, never one too few.
 */
export type Claimed = ClaimedDelivery[] & { readonly more: boolean };

/** A claim's deliveries with its `more` flag. */
export function claimed(deliveries: ClaimedDelivery[], more: boolean): Claimed {
  return Object.assign(deliveries, { more });
}

export interface ClaimOptions {
  workerId: string;
  now: Date;
  leaseMs: number;
  /** Most deliveries returned. */
  limit: number;
  /** Most deliveries in flight per endpoint, across every worker. */
  perEndpoint: number;
  /** Most deliveries in flight per partner (all its endpoints), across every worker. Default: no bound. */
  perPartner?: number;
}

/** What becomes of the delivery after an attempt. */
export type DeliveryNext =
  | { status: 'delivered' }
  | { status: 'failed' }
  | { status: 'pending'; nextAttemptAt: Date };

/** One attempt to record, with its consequences. */
export interface Completion {
  deliveryId: string;
  endpointId: string;
  at: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseExcerpt: string | null;
  next: DeliveryNext;
  /** Whether the attempt succeeded, for the endpoint's failing-since clock. */
  succeeded: boolean;
  /** Set to throttle the endpoint (429/502/503/504). */
  throttleUntil?: Date;
  /** Set to disable the endpoint now (410), with this reason. */
  disableReason?: string;
}

export interface CompleteOptions {
  workerId: string;
  /** An endpoint failing every attempt for longer than this is disabled. */
  failureWindowMs: number;
}

/** What completing did beyond recording the attempts. */
export interface CompleteResult {
  /** Endpoints disabled while completing, so the caller can log and count them. */
  disabled: { endpointId: string; reason: string }[];
  /**
   * Deliveries that became their key's head because a completion settled the one before them (the
   * third party's next event for that endpoint): claimable now, or at their next attempt time.
   */
  promoted: number;
}

export interface QueueStats {
  pending: number;
  oldestPendingAt: Date | null;
}

export interface DeliveryQueue {
  /**
   * Claims due heads with a lease, at most `perEndpoint` in flight per endpoint and `perPartner` per
   * partner, shared out across partners in turns.
   */
  claim(o: ClaimOptions): Promise<Claimed>;
  /** Records attempts and outcomes, each in one transaction with its delivery's update (batch form). */
  complete(completions: Completion[], o: CompleteOptions): Promise<CompleteResult>;
  /**
   * `complete`, then `claim`, in one transaction: one commit instead of two, for a dispatcher that
   * knows a claim should follow its completions (its last claim left due heads behind for lack of
   * room). The claim sees what the completions did: the slots they freed, the heads they promoted.
   */
  completeAndClaim(
    completions: Completion[],
    o: CompleteOptions,
    claim: ClaimOptions,
  ): Promise<CompleteResult & { claimed: Claimed }>;
  /** Gives leases back without an attempt (graceful stop). */
  release(workerId: string, deliveryIds: string[]): Promise<void>;
  /** The earliest `next_attempt_at` among pending deliveries of enabled endpoints, to sleep until. */
  nextDueAt(): Promise<Date | null>;
  /**
   * The earliest time later than `after` (the caller's last claim) at which a rate-limited endpoint
   * with pending deliveries has room for a claim again (half its burst: rate-limit.ts `rateSlotAt`),
   * or null when none does; it may be past already (claim now). The dispatcher sleeps until then
   * rather than a whole poll interval, so a limited endpoint gets its rate, not one burst per poll.
   */
  nextRateSlotAt(after: Date): Promise<Date | null>;
  stats(now: Date): Promise<QueueStats>;
  /**
   * Calls `listener` after every commit that recorded an event or made deliveries claimable: this
   * storage's decisions, retries and recovers, and on PostgreSQL other processes' too (LISTEN/NOTIFY).
   * Returns the unsubscribe function. A wake-up can be lost (a LISTEN connection down): pollers keep
   * polling, only less often.
   */
  onQueued(listener: () => void): () => void;

  // partner operations
  /** Sends one delivery again now; undefined when it is not this partner's endpoint's delivery. */
  retry(customerId: string, endpointId: string, deliveryId: string, now: Date): Promise<Delivery | undefined>;
  /**
   * Re-queues every failed delivery of the endpoint created since `since`, each with a fresh retry
   * schedule (a new round: `retry_round_start` = `attempt_count`, which keeps counting every attempt);
   * returns how many, or undefined when the endpoint is not this partner's.
   */
  recover(customerId: string, endpointId: string, since: Date, now: Date): Promise<number | undefined>;
}
