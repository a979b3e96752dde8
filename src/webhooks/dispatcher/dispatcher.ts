/**
 * The dispatcher: claims due deliveries in batches, sends them concurrently, records every attempt.
 *
 * One loop per dispatcher: claim as many deliveries as there are free slots (the queue bounds each
 * endpoint's and each partner's share, and hands a batch out across partners in turns), start their
 * attempts, and claim again when a decision commits in this process (`notify`) or in another one
 * (`queue.onQueued`), at the next poll, sooner when a rate-limited endpoint gets room again
 * (`queue.nextRateSlotAt`), and after completions that can have made something claimable: they
 * promoted the next delivery of a key, or they freed slots that due deliveries were waiting for (the
 * last claim said it left some behind, or had no room to claim). A claim after every completion
 * doubled the claims of decisions arriving one at a time, the second one finding nothing.
 * Completions are written in batches (group commit): whatever finished while the previous batch was
 * being written goes in the next one. When a claim should follow a batch and the loop is waiting, that
 * claim rides on the batch's transaction (`queue.completeAndClaim`): one commit instead of two.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import type {
  Claimed,
  ClaimedDelivery,
  ClaimOptions,
  CompleteResult,
  Completion,
  DeliveryQueue,
} from '../../storage/queue.js';
import { planCompletion } from './attempt.js';
import { createDispatcherMetrics, type DispatcherMetrics } from './metrics.js';
import { createRetryPolicy, type RetryPolicy } from './retry-policy.js';
import { createSender, DEFAULT_ATTEMPT_TIMEOUT_MS, type Sender } from './sender.js';

export interface DispatcherOptions {
  queue: DeliveryQueue;
  policy?: RetryPolicy;
  /** Defaults to a sender built from `timeoutMs` and `allowPrivateEndpoints`. */
  sender?: Sender;
  allowPrivateEndpoints?: boolean;
  /** Per-attempt timeout. Default 15 s. */
  timeoutMs?: number;
  /** Identifies this dispatcher's leases. Default: host, pid and a random suffix. */
  workerId?: string;
  /** Attempts in flight in this dispatcher. Default 256. */
  concurrency?: number;
  /** Attempts in flight per endpoint, across all dispatchers. Default 8. */
  perEndpoint?: number;
  /**
   * Attempts in flight per partner (all its endpoints together), across all dispatchers, so that one
   * partner's slow endpoints cannot hold every slot. Default: a quarter of `concurrency`, at least
   * `perEndpoint`.
   */
  perPartner?: number;
  /** Most deliveries per claim. Default 256. */
  batchSize?: number;
  /** How long a claim holds a delivery; must exceed the attempt timeout. Default 2 × timeout + 5 s. */
  leaseMs?: number;
  /** Polling interval when nothing wakes the loop. Default 500 ms. */
  pollIntervalMs?: number;
  /** An endpoint failing every attempt for this long is disabled. Default 5 days. */
  failureWindowMs?: number;
  /** Pause of an endpoint after 429/502/503/504 without Retry-After. Default 5 s. */
  slowDownMs?: number;
  /** Called with errors the loop survives (database hiccups); default logs to stderr. */
  onError?: (err: unknown) => void;
  /** Called when the dispatcher disables an endpoint. */
  onEndpointDisabled?: (endpointId: string, reason: string) => void;
  /** Called after each batch of completions is committed, with what the queue did (failure alerts). */
  onCompleted?: (completions: readonly Completion[], result: CompleteResult) => void;
  /** Where to count; default: a registry of its own (nobody scrapes it). */
  metrics?: DispatcherMetrics;
}

export interface Dispatcher {
  readonly workerId: string;
  start(): void;
  /** Wakes the loop now (the queue's `onQueued` does it for decisions, retries and recovers). */
  notify(): void;
  /**
   * Stops claiming, waits up to `graceMs` (default: the attempt timeout) for attempts in flight,
   * records them, and releases the leases of any still running so another dispatcher takes them.
   */
  stop(graceMs?: number): Promise<void>;
  /** Counts since start: attempts made and deliveries delivered by this dispatcher. */
  counts(): { attempts: number; delivered: number };
  /**
   * Resolves when nothing is in flight, nothing was due at the last claim and no rate-limited endpoint
   * waits for its budget (tests, benchmarks).
   */
  idle(): Promise<void>;
}

const DAY = 24 * 3600_000;

/**
 * How soon after a claim that handed deliveries out the dispatcher asks for the next rate slot: within
 * half a limited endpoint's burst (100 ms' worth, rate-limit.ts), so a burst just spent is followed by
 * the next claim at the rate, not at the next poll.
 */
const RATE_CHECK_MS = 50;

/**
 * The per-partner bound when none is set: a quarter of the dispatcher's slots, so three partners with
 * endpoints that never answer still leave a quarter to everyone else, and at least one endpoint's worth.
 *
 * @example
 * defaultPerPartner(256, 8); // 64
 */
export function defaultPerPartner(concurrency: number, perEndpoint: number): number {
  return Math.max(perEndpoint, Math.floor(concurrency / 4));
}

/**
 * Creates a dispatcher on a queue.
 *
 * @example
 * const { queue } = await openStorage(process.env.DATABASE_URL);
 * const dispatcher = createDispatcher({ queue, policy: createRetryPolicy() });
 * dispatcher.start();
 * process.on('SIGTERM', () => dispatcher.stop());
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const queue = options.queue;
  const timeoutMs = options.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  const policy = options.policy ?? createRetryPolicy();
  const ownSender = options.sender === undefined;
  const sender =
    options.sender ??
    createSender({
      timeoutMs,
      allowPrivateEndpoints: options.allowPrivateEndpoints ?? false,
      connectionsPerOrigin: options.perEndpoint ?? 8,
    });
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const concurrency = options.concurrency ?? 256;
  const perEndpoint = options.perEndpoint ?? 8;
  const perPartner = options.perPartner ?? defaultPerPartner(concurrency, perEndpoint);
  const batchSize = options.batchSize ?? 256;
  const leaseMs = options.leaseMs ?? 2 * timeoutMs + 5000;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const failureWindowMs = options.failureWindowMs ?? 5 * DAY;
  const slowDownMs = options.slowDownMs ?? 5000;
  const onError = options.onError ?? ((err: unknown) => console.error('dispatcher:', err));
  const metrics = options.metrics ?? createDispatcherMetrics(new Registry(), (now) => queue.stats(now));

  let running = false;
  // Set once stop() has released the leases of attempts still running: their late results are dropped
  // (another dispatcher owns those deliveries now) and nothing more is written on the queue.
  let released = false;
  let loopDone: Promise<void> = Promise.resolve();
  let wake: (() => void) | undefined;
  let woken = false;
  const inFlight = new Map<string, Promise<void>>();
  let pendingCompletions: Completion[] = [];
  let flushing: Promise<void> | undefined;
  // the last claim left nothing due behind it (idle() waits for this)
  let lastClaimEmpty = false;
  // a completion that frees a slot should claim again: the last claim left due deliveries for lack
  // of room, had no room to claim, or failed
  let claimOnCompletion = true;
  let idleWaiters: (() => void)[] = [];
  let unsubscribe: (() => void) | undefined;
  const counts = { attempts: 0, delivered: 0 };
  // When to ask the queue again for its next rate slot, and the slot it named (epoch ms). Asked at each
  // slot, so a limited endpoint with a backlog is claimed at its rate; otherwise within RATE_CHECK_MS
  // of a claim that handed something out (it may have spent a limited endpoint's burst), else once a
  // poll interval: an unlimited queue pays a cheap, empty query a few times a second at most.
  let rateCheckAt = 0;
  let rateSlotAt: number | undefined;
  let lastClaimAt = 0;
  // A claim riding on completions (flush), while it runs: the loop's turns wait for it.
  let riding: Promise<void> | undefined;
  // Set when such a claim is done and no signal came meanwhile: the loop's next turn only waits, as
  // after a claim of its own. A signal during the ride, or after it, makes that turn claim.
  let rode: { handedOut: boolean; full: boolean } | undefined;
  let wokenDuringRide = false;
  // The loop's own claim is running: no claim rides on completions meanwhile.
  let claiming = false;
  // Claimed by such a claim that ended after stop() began: never sent, released by stop().
  const unsent: string[] = [];

  const wakeLoop = () => {
    woken = true;
    wake?.();
  };
  const signal = () => {
    // something may be due now: not idle until a claim has looked, and the loop's next turn claims
    lastClaimEmpty = false;
    rode = undefined;
    if (riding) wokenDuringRide = true;
    wakeLoop();
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) {
        woken = false;
        return resolve();
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        woken = false;
        resolve();
      }
      wake = done;
    });

  function checkIdle() {
    if (
      lastClaimEmpty &&
      rateSlotAt === undefined &&
      !woken &&
      inFlight.size === 0 &&
      pendingCompletions.length === 0 &&
      !flushing &&
      !flushTimer
    ) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  const claimOptions = (limit: number): ClaimOptions => {
    lastClaimAt = Date.now();
    return { workerId, now: new Date(lastClaimAt), leaseMs, limit, perEndpoint, perPartner };
  };

  function startAttempts(claimed: readonly ClaimedDelivery[]) {
    for (const d of claimed) {
      const p = attempt(d)
        .catch(onError)
        .finally(() => {
          inFlight.delete(d.id);
          scheduleFlush();
        });
      inFlight.set(d.id, p);
    }
  }

  function flush(): Promise<void> {
    if (flushing) return flushing;
    if (pendingCompletions.length === 0) return Promise.resolve();
    const batch = pendingCompletions;
    pendingCompletions = [];
    let promoted = 0;
    // The claim these completions would wake the loop for (its last claim left due heads behind for
    // lack of room) rides on their transaction, unless the loop is claiming right now.
    const limit =
      claimOnCompletion && running && !claiming ? Math.min(batchSize, concurrency - inFlight.size) : 0;
    const completeOptions = { workerId, failureWindowMs };
    let rider: Claimed | undefined;
    let written: Promise<CompleteResult>;
    const timer = metrics.queueWriteSeconds.startTimer({
      operation: limit > 0 ? 'complete_and_claim' : 'complete',
    });
    metrics.queueBatchSize.observe({ operation: 'complete' }, batch.length);
    if (limit > 0) {
      written = queue.completeAndClaim(batch, completeOptions, claimOptions(limit)).then((r) => {
        rider = r.claimed;
        return r;
      });
    } else written = queue.complete(batch, completeOptions);
    flushing = written
      .then((r) => {
        promoted = r.promoted;
        for (const d of r.disabled) {
          metrics.endpointsDisabled.inc();
          options.onEndpointDisabled?.(d.endpointId, d.reason);
        }
        options.onCompleted?.(batch, r);
      })
      .catch((err) => {
        // The leases will expire and the deliveries be attempted again: at-least-once holds.
        onError(err);
      })
      .finally(() => {
        timer();
        if (rider) metrics.queueBatchSize.observe({ operation: 'claim' }, rider.length);
        flushing = undefined;
        riding = undefined;
        const rodeOn = rider !== undefined && takeRider(rider, limit);
        // the next batch first: while the loop still waits, its claim rides on it too
        if (pendingCompletions.length > 0) void flush();
        if (rodeOn) wakeLoop();
        else if (promoted > 0 || claimOnCompletion) signal();
        checkIdle();
      });
    if (limit > 0) riding = flushing;
    return flushing;
  }

  /** Takes on what a claim riding on completions handed out; whether the loop must be woken. */
  function takeRider(claimed: Claimed, limit: number): boolean {
    if (!running) {
      // stopping: not sent, their leases are released with those of attempts still running
      for (const d of claimed) unsent.push(d.id);
      return false;
    }
    // the loop waits as after a claim of its own (a rate slot to look up, or another claim at once
    // when this one was full); it saw the heads the completions promoted
    const outcome = took(claimed, limit);
    if (wokenDuringRide) lastClaimEmpty = false;
    else rode = outcome;
    wokenDuringRide = false;
    return true;
  }

  /**
   * Starts what a claim of at most `limit` handed out and notes what it said: whether a completion
   * should claim again, and whether the claim was full.
   */
  function took(claimed: Claimed, limit: number): { handedOut: boolean; full: boolean } {
    startAttempts(claimed);
    claimOnCompletion = claimed.more;
    // A full batch means more may be due right away; otherwise wait for a reason to look again.
    const full = claimed.length === limit;
    lastClaimEmpty = !claimed.more && !full;
    return { handedOut: claimed.length > 0, full };
  }

  // Completions that finish within a millisecond of each other share one transaction.
  let flushTimer: NodeJS.Timeout | undefined;
  function scheduleFlush() {
    if (flushTimer || released) return;
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      void flush();
    }, 1);
  }

  async function attempt(d: ClaimedDelivery): Promise<void> {
    const result = await sender.send({
      url: d.url,
      messageId: d.eventId,
      payload: d.payload,
      secrets: d.secrets,
      poolKey: d.endpointId,
    });
    if (released) return;
    const { completion, label } = planCompletion(d, result, policy, slowDownMs);
    metrics.attempts.inc({ outcome: label });
    counts.attempts++;
    if (label === 'delivered') counts.delivered++;
    metrics.attemptSeconds.observe({ outcome: label }, result.durationMs / 1000);
    if (label === 'delivered') {
      metrics.deliveries.inc({ status: 'delivered' });
      // the first attempt ever (attemptCount is the total, not this retry round's)
      if (d.attemptCount === 0) {
        metrics.commitToDeliverySeconds.observe((Date.now() - d.createdAt.getTime()) / 1000);
      }
    } else {
      metrics.endpointFailures.inc();
      if (completion.next.status === 'failed') metrics.deliveries.inc({ status: 'failed' });
    }
    pendingCompletions.push(completion);
  }

  /**
   * How long to sleep after a claim: the poll interval, or until the next rate slot when that is
   * sooner. Only slots after the last claim count: that claim had its chance at the earlier ones, so
   * an endpoint with budget but no room (its in-flight bound) waits for a completion, not a timer.
   */
  async function pause(handedOut: boolean): Promise<number> {
    const now = Date.now();
    if (handedOut) rateCheckAt = Math.min(rateCheckAt, lastClaimAt + RATE_CHECK_MS);
    if (now >= rateCheckAt) {
      let slot: Date | null = null;
      try {
        slot = await queue.nextRateSlotAt(new Date(lastClaimAt));
      } catch (err) {
        onError(err);
      }
      rateSlotAt = slot?.getTime();
      rateCheckAt = rateSlotAt ?? now + pollIntervalMs;
    }
    // no slot known: the poll, or, when the last claim left due heads behind, the rate check that
    // is due sooner (the last claims may have spent a limited endpoint's budget, and nothing else may
    // wake the loop before the poll)
    const until = rateSlotAt ?? (claimOnCompletion ? rateCheckAt : undefined);
    if (until === undefined) return pollIntervalMs;
    return Math.max(0, Math.min(pollIntervalMs, until - Date.now()));
  }

  async function loop(): Promise<void> {
    while (running) {
      if (riding) {
        // claims ride on completions: their outcome first (a signal meanwhile makes this turn claim)
        while (riding) await riding;
        woken = false;
        if (!running) break;
      }
      let handedOut: boolean;
      let full: boolean;
      if (rode) {
        // a claim rode on completions since the last turn: only its wait is left
        ({ handedOut, full } = rode);
        rode = undefined;
      } else {
        const limit = Math.min(batchSize, concurrency - inFlight.size);
        let claimed: Claimed | undefined;
        // until this claim is done, a completion claims again: it may free room this one missed
        claimOnCompletion = true;
        if (limit > 0) {
          claiming = true;
          const timer = metrics.queueWriteSeconds.startTimer({ operation: 'claim' });
          try {
            claimed = await queue.claim(claimOptions(limit));
            metrics.queueBatchSize.observe({ operation: 'claim' }, claimed.length);
          } catch (err) {
            onError(err);
          } finally {
            timer();
            claiming = false;
          }
        }
        if (claimed) ({ handedOut, full } = took(claimed, limit));
        else {
          // no room, or the claim failed: nothing to wait for but a completion or the next poll
          lastClaimEmpty = true;
          handedOut = false;
          full = false;
        }
      }
      const wait = full || !running ? 0 : await pause(handedOut);
      checkIdle();
      if (!running) break;
      if (full) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      await sleep(wait);
    }
  }

  return {
    workerId,
    start() {
      if (running) return;
      running = true;
      released = false;
      // decisions, retries and recovers of this storage, and on PostgreSQL of every process
      unsubscribe = queue.onQueued(signal);
      loopDone = loop();
    },
    notify: signal,
    async stop(graceMs = timeoutMs) {
      if (!running) return;
      running = false;
      unsubscribe?.();
      signal();
      await loopDone;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      await Promise.race([Promise.allSettled([...inFlight.values()]), timedOut]);
      clearTimeout(timer);
      const stillRunning = [...inFlight.keys()];
      clearTimeout(flushTimer);
      flushTimer = undefined;
      // a batch written now may end by starting the next (completions that came in meanwhile): every
      // one is written before the leases go and the caller closes the storage
      while (flushing || pendingCompletions.length > 0) await flush();
      released = true;
      const leased = [...stillRunning, ...unsent.splice(0)];
      if (leased.length > 0) await queue.release(workerId, leased).catch(onError);
      // close() aborts what is still running (a never-answering endpoint would otherwise hold stop()
      // for the whole attempt timeout); those deliveries were released above.
      if (ownSender) await sender.close().catch(() => {});
    },
    counts: () => ({ ...counts }),
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      });
    },
  };
}
