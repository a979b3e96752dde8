/**
 * The delivery queue on SQLite (see ../queue.ts for the terms). Every operation runs in one
 * `BEGIN IMMEDIATE` transaction: better-sqlite3 is synchronous, so a claim or a batch of completions
 * holds the write lock for well under a millisecond per row and never across an await. Several
 * processes may share one file; the write lock makes each claim atomic.
 */
import type Database from 'better-sqlite3';
import { openDeliverySecrets, SecretBox } from '../../secrets/box.js';
import {
  type ClaimedDelivery,
  type ClaimOptions,
  type CompleteOptions,
  type CompleteResult,
  type Completion,
  claimed,
  type DeliveryQueue,
  type QueueStats,
} from '../queue.js';
import { earliestRateSlot, nextTat, rateRoom } from '../rate-limit.js';
import type { QueueSignal } from '../signal.js';
import { deliveryQueries } from './deliveries.js';
import type { Row } from './tables.js';
import { writeLock } from './write-lock.js';

type DeliveryRow = Row<'deliveries'>;
type AttemptRow = Row<'attempts'>;

/** An endpoint with room in a claim. */
interface EndpointTurn {
  id: string;
  url: string;
  /** How many more it may be handed: its in-flight bound, and its rate limit's budget. */
  room: number;
  secrets?: string[];
  /** Its rate limit and the limit's TAT before this claim (../rate-limit.ts); undefined: no limit. */
  rate?: { limit: number; tat: number | null; leased: number };
}

/** One partner's part in a claim: its endpoints with room, in the order they are visited. */
interface PartnerTurn {
  customerId: string;
  /** How many more it may have in flight. */
  room: number;
  /** A queue: an endpoint that may have more due heads goes to the back after its turn. */
  endpoints: EndpointTurn[];
}

/**
 * Creates the SQLite queue on an open database that has migrations 001 and 002 applied.
 *
 * @example
 * const queue = sqliteDeliveryQueue(db);
 * const claimed = await queue.claim({ workerId, now: new Date(), leaseMs: 60_000, limit: 100, perEndpoint: 8 });
 */
export function sqliteDeliveryQueue(
  db: Database.Database,
  signal: QueueSignal,
  box: SecretBox = new SecretBox(),
): DeliveryQueue {
  const watcher = otherProcessWatcher(db, signal);
  // claims, completions and releases wait for another process's write lock without blocking
  const write = writeLock(db);
  // endpoints with a due delivery (one probe of deliveries_due_by_endpoint each)
  const endpointsWithDue = db.prepare<
    { now: number },
    {
      id: string;
      customer_id: string;
      url: string;
      rate_limit: number | null;
      rate_tat: number | null;
    }
  >(
    `SELECT e.id, e.customer_id, e.url, e.rate_limit, e.rate_tat
     FROM endpoints e
     WHERE e.enabled = 1 AND (e.throttled_until IS NULL OR e.throttled_until <= @now)
       AND EXISTS (
         SELECT 1 FROM deliveries d
         WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= @now
       )`,
  );
  // Every endpoint's and partner's leases in one pass over the leases (only the deliveries in flight):
  // cheaper than a count per endpoint and per partner, and an index by partner would cost every lease
  // and every completion one more index write.
  const inFlight = db.prepare<{ now: number }, { endpoint_id: string; customer_id: string; n: number }>(
    `SELECT endpoint_id, customer_id, count(*) AS n FROM delivery_leases WHERE locked_until > @now
     GROUP BY endpoint_id, customer_id`,
  );
  const dueHeads = db.prepare<{ endpoint_id: string; now: number; room: number }, DeliveryRow>(
    `SELECT d.* FROM deliveries d
     WHERE d.endpoint_id = @endpoint_id AND d.status = 'pending' AND d.next_attempt_at <= @now
       AND NOT EXISTS (SELECT 1 FROM delivery_leases l WHERE l.delivery_id = d.id AND l.locked_until > @now)
       AND NOT EXISTS (
         SELECT 1 FROM deliveries p
         WHERE p.endpoint_id = d.endpoint_id AND p.customer_id = d.customer_id
           AND p.client_customer_ref = d.client_customer_ref AND p.status = 'pending'
           AND p.event_seq < d.event_seq
       )
     ORDER BY d.next_attempt_at, d.event_seq
     LIMIT @room`,
  );
  // replaces an expired lease of another worker: that worker's completion is then fenced out
  const lease = db.prepare<{ id: string; endpoint: string; customer: string; worker: string; until: number }>(
    `INSERT OR REPLACE INTO delivery_leases (delivery_id, endpoint_id, customer_id, locked_by, locked_until)
     VALUES (@id, @endpoint, @customer, @worker, @until)`,
  );
  const spend = db.prepare<{ id: string; tat: number }>(
    'UPDATE endpoints SET rate_tat = @tat WHERE id = @id',
  );
  const payloadOf = db.prepare<[string], string>('SELECT payload FROM events WHERE event_id = ?').pluck();
  const secretsOf = db
    .prepare<[string, number], string>(
      `SELECT secret FROM endpoint_secrets
       WHERE endpoint_id = ? AND (expires_at IS NULL OR expires_at > ?)
       ORDER BY created_at DESC, id DESC`,
    )
    .pluck();

  /**
   * The partners with due heads on endpoints with room, each with its room (`perPartner` minus its
   * leases), both lists starting at a rotating place so that, when the batch limit is smaller than the
   * room of all together, no partner and no endpoint is always last; and `roomless`, whether an
   * endpoint or a partner with something due had no room left.
   */
  let rotation = 0;
  function turns(
    o: ClaimOptions,
    now: number,
    limited: EndpointTurn[],
  ): { partners: PartnerTurn[]; roomless: boolean } {
    let roomless = false;
    const due = endpointsWithDue.all({ now });
    const leasesByEndpoint = new Map<string, number>();
    const leasesByPartner = new Map<string, number>();
    if (due.length > 0) {
      for (const l of inFlight.all({ now })) {
        leasesByEndpoint.set(l.endpoint_id, l.n);
        leasesByPartner.set(l.customer_id, (leasesByPartner.get(l.customer_id) ?? 0) + l.n);
      }
    }
    const endpoints: (EndpointTurn & { customer_id: string })[] = [];
    for (const e of due) {
      const turn: EndpointTurn & { customer_id: string } = {
        id: e.id,
        customer_id: e.customer_id,
        url: e.url,
        room: o.perEndpoint - (leasesByEndpoint.get(e.id) ?? 0),
      };
      if (e.rate_limit !== null) {
        turn.room = Math.min(turn.room, rateRoom(e.rate_limit, e.rate_tat, now));
        turn.rate = { limit: e.rate_limit, tat: e.rate_tat, leased: 0 };
      }
      if (turn.room <= 0) {
        roomless = true;
        continue;
      }
      endpoints.push(turn);
      if (turn.rate) limited.push(turn);
    }
    const turn = rotation++;
    const perPartner = o.perPartner;
    const byPartner = new Map<string, PartnerTurn>();
    for (const e of rotate(endpoints, turn)) {
      let p = byPartner.get(e.customer_id);
      if (!p) {
        const room =
          perPartner === undefined ? o.limit : perPartner - (leasesByPartner.get(e.customer_id) ?? 0);
        p = { customerId: e.customer_id, room, endpoints: [] };
        byPartner.set(e.customer_id, p);
      }
      p.endpoints.push(e);
    }
    const partners = rotate([...byPartner.values()], turn);
    if (partners.some((p) => p.room <= 0)) roomless = true;
    return { partners: partners.filter((p) => p.room > 0), roomless };
  }

  const claimIn = (o: ClaimOptions): { out: ClaimedDelivery[]; more: boolean } => {
    const now = o.now.getTime();
    const out: ClaimedDelivery[] = [];
    // endpoints that reached their room with as many heads as they were asked for
    const filled: EndpointTurn[] = [];

    /** Leases up to `want` due heads of the partner's endpoints, one endpoint after the other. */
    const take = (p: PartnerTurn, want: number): number => {
      let taken = 0;
      while (taken < want && p.endpoints.length > 0) {
        const e = p.endpoints.shift();
        if (!e) break;
        const ask = Math.min(e.room, want - taken);
        const rows = dueHeads.all({ endpoint_id: e.id, now, room: ask });
        if (rows.length > 0) e.secrets ??= secretsOf.all(e.id, now);
        for (const r of rows) {
          lease.run({
            id: r.id,
            endpoint: r.endpoint_id,
            customer: r.customer_id,
            worker: o.workerId,
            until: now + o.leaseMs,
          });
          out.push({
            id: r.id,
            eventId: r.event_id,
            eventSeq: r.event_seq,
            endpointId: r.endpoint_id,
            customerId: r.customer_id,
            clientCustomerRef: r.client_customer_ref,
            url: e.url,
            payload: payloadOf.get(r.event_id) ?? '',
            secrets: e.secrets ?? [],
            attemptCount: r.attempt_count,
            retryRoundStart: r.retry_round_start,
            createdAt: new Date(r.created_at),
          });
        }
        taken += rows.length;
        e.room -= rows.length;
        if (e.rate) e.rate.leased += rows.length;
        // fewer than asked: no more due heads there; otherwise it may have more, after the others
        // (or, full, for a later claim: looked at below)
        if (rows.length === ask) {
          if (e.room > 0) p.endpoints.push(e);
          else filled.push(e);
        }
      }
      return taken;
    };

    // Rounds: each partner still wanting more gets an equal part of what is left of the limit, so
    // every partner's first deliveries are in before a large backlog fills the batch. A remainder
    // smaller than the number of partners goes to them in (rotating) order, each taking what it can:
    // one query instead of one per partner.
    const limited: EndpointTurn[] = [];
    const { partners: served, roomless } = turns(o, now, limited);
    let active = served;
    while (active.length > 0 && out.length < o.limit) {
      const left = o.limit - out.length;
      const share = Math.floor(left / active.length) || left;
      const next: PartnerTurn[] = [];
      for (const p of active) {
        const want = Math.min(share, p.room, o.limit - out.length);
        if (want <= 0) break;
        const got = take(p, want);
        p.room -= got;
        if (got === want && p.room > 0 && p.endpoints.length > 0) next.push(p);
      }
      active = next;
    }
    // the rate-limited endpoints' budgets, spent in this transaction: every process's next claim sees it
    for (const e of limited) {
      if (e.rate && e.rate.leased > 0)
        spend.run({ id: e.id, tat: nextTat(e.rate.limit, e.rate.tat, now, e.rate.leased) });
    }
    // Whether due heads are left for lack of room (../queue.ts Claimed): surely when the batch is full
    // (the drain: no query), else on an endpoint that filled its room or is still queued (its
    // partner's room ran out first), looked up after this claim's leases (one row each, at most).
    const more =
      roomless ||
      out.length >= o.limit ||
      [...filled, ...served.flatMap((p) => p.endpoints)].some(
        (e) => dueHeads.all({ endpoint_id: e.id, now, room: 1 }).length > 0,
      );
    return { out, more };
  };
  const claimTx = db.transaction(claimIn);

  const insertAttempt = db.prepare<Omit<AttemptRow, 'id'>>(
    `INSERT INTO attempts (delivery_id, at, duration_ms, status_code, error, response_excerpt)
     VALUES (@delivery_id, @at, @duration_ms, @status_code, @error, @response_excerpt)`,
  );
  // Fenced by the lease: if it expired and another worker took the delivery, that worker decides. The
  // attempt was made all the same, so it is counted (`late`): attempt_count stays the attempts listed.
  const unlease = db.prepare<{ id: string; worker: string }>(
    'DELETE FROM delivery_leases WHERE delivery_id = @id AND locked_by = @worker',
  );
  const settle = db.prepare<{
    id: string;
    status: DeliveryRow['status'];
    next: number | null;
    at: number;
  }>(
    `UPDATE deliveries SET status = @status, attempt_count = attempt_count + 1, next_attempt_at = @next,
       last_attempt_at = @at, updated_at = @at
     WHERE id = @id`,
  );
  const late = db.prepare<[string]>('UPDATE deliveries SET attempt_count = attempt_count + 1 WHERE id = ?');
  // after a delivery left `pending`: whether its key has a next one, now its head (deliveries_order)
  const nextOfKey = db
    .prepare<[string], number>(
      `SELECT EXISTS (SELECT 1 FROM deliveries d JOIN deliveries p
         ON p.endpoint_id = d.endpoint_id AND p.customer_id = d.customer_id
           AND p.client_customer_ref = d.client_customer_ref
       WHERE d.id = ? AND p.status = 'pending')`,
    )
    .pluck();
  // only when set: an endpoint's row is not rewritten at every success
  const succeeded = db.prepare<[string]>(
    'UPDATE endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL',
  );
  const failed = db
    .prepare<{ id: string; at: number }, number>(
      `UPDATE endpoints SET failing_since = coalesce(failing_since, @at) WHERE id = @id AND enabled = 1
       RETURNING failing_since`,
    )
    .pluck();
  const throttle = db.prepare<{ id: string; until: number }>(
    'UPDATE endpoints SET throttled_until = max(coalesce(throttled_until, 0), @until) WHERE id = @id',
  );
  const disable = db.prepare<{ id: string; reason: string; at: number }>(
    `UPDATE endpoints SET enabled = 0, disabled_reason = @reason, disabled_at = @at, failing_since = NULL,
       updated_at = @at
     WHERE id = @id AND enabled = 1`,
  );

  const completeIn = (cs: Completion[], o: CompleteOptions): CompleteResult => {
    const disabled: CompleteResult['disabled'] = [];
    let promoted = 0;
    for (const c of cs) {
      const at = c.at.getTime();
      insertAttempt.run({
        delivery_id: c.deliveryId,
        at,
        duration_ms: Math.round(c.durationMs),
        status_code: c.statusCode,
        error: c.error,
        response_excerpt: c.responseExcerpt,
      });
      if (unlease.run({ id: c.deliveryId, worker: o.workerId }).changes > 0) {
        settle.run({
          id: c.deliveryId,
          status: c.next.status,
          next: c.next.status === 'pending' ? c.next.nextAttemptAt.getTime() : null,
          at,
        });
        if (c.next.status !== 'pending') promoted += nextOfKey.get(c.deliveryId) ?? 0;
      } else late.run(c.deliveryId);
      if (c.succeeded) {
        succeeded.run(c.endpointId);
        continue;
      }
      if (c.throttleUntil) throttle.run({ id: c.endpointId, until: c.throttleUntil.getTime() });
      let reason = c.disableReason;
      if (reason === undefined) {
        const since = failed.get({ id: c.endpointId, at });
        if (since !== undefined && at - since >= o.failureWindowMs) {
          reason = `every delivery attempt has failed since ${new Date(since).toISOString()}`;
        }
      }
      if (reason !== undefined && disable.run({ id: c.endpointId, reason, at }).changes > 0) {
        disabled.push({ endpointId: c.endpointId, reason });
      }
    }
    return { disabled, promoted };
  };
  const completeTx = db.transaction(completeIn);
  // one transaction, one commit: the claim sees what the completions did
  const cycleTx = db.transaction((cs: Completion[], o: CompleteOptions, c: ClaimOptions) => ({
    ...completeIn(cs, o),
    ...claimIn(c),
  }));

  const releaseTx = db.transaction((worker: string, ids: string[]) => {
    for (const id of ids) unlease.run({ id, worker });
  });

  // each enabled endpoint's first pending delivery by due time (deliveries_due_by_endpoint)
  const nextDue = db
    .prepare<[], number | null>(
      `SELECT min((SELECT d.next_attempt_at FROM deliveries d
                   WHERE d.endpoint_id = e.id AND d.status = 'pending'
                   ORDER BY d.next_attempt_at LIMIT 1))
       FROM endpoints e WHERE e.enabled = 1`,
    )
    .pluck();
  // limited endpoints whose budget was spent after `after` (endpoints_rate_limited), with something
  // pending
  const ratePaying = db.prepare<{ after: number }, { rate_limit: number; rate_tat: number }>(
    `SELECT e.rate_limit, e.rate_tat FROM endpoints e
     WHERE e.rate_limit IS NOT NULL AND e.rate_tat > @after AND e.enabled = 1
       AND (e.throttled_until IS NULL OR e.throttled_until <= @after)
       AND EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id AND d.status = 'pending')`,
  );
  const statsQuery = db.prepare<[], { pending: number; oldest: number | null }>(
    `SELECT count(*) AS pending, min(created_at) AS oldest FROM deliveries WHERE status = 'pending'`,
  );

  const ownDelivery = db.prepare<{ customer_id: string; endpoint_id: string; id: string }, DeliveryRow>(
    `SELECT d.* FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
     WHERE d.id = @id AND d.endpoint_id = @endpoint_id AND e.customer_id = @customer_id`,
  );
  const requeue = db.prepare<{ id: string; now: number }>(
    `UPDATE deliveries SET status = 'pending', next_attempt_at = @now, updated_at = @now WHERE id = @id`,
  );
  // an attempt still running for it is fenced out: its completion counts, the retry decides
  const dropLease = db.prepare<[string]>('DELETE FROM delivery_leases WHERE delivery_id = ?');
  const ownEndpoint = db
    .prepare<{ customer_id: string; endpoint_id: string }, string>(
      'SELECT id FROM endpoints WHERE id = @endpoint_id AND customer_id = @customer_id',
    )
    .pluck();
  // a new retry round: the schedule starts over from here, attempt_count keeps counting
  const recoverQuery = db.prepare<{ endpoint_id: string; since: number; now: number }>(
    `UPDATE deliveries SET status = 'pending', retry_round_start = attempt_count, next_attempt_at = @now,
       updated_at = @now
     WHERE endpoint_id = @endpoint_id AND status = 'failed' AND created_at >= @since`,
  );
  const deliveries = deliveryQueries(db);

  return {
    async claim(o) {
      // secrets are stored encrypted: decrypted after the commit, outside the write lock (a value
      // that does not decrypt fails the claim loudly; its deliveries wait for their lease to end)
      const { out, more } = await write(() => claimTx.immediate(o));
      return claimed(openDeliverySecrets(box, out), more);
    },
    async complete(cs, o) {
      if (cs.length === 0) return { disabled: [], promoted: 0 };
      return write(() => completeTx.immediate(cs, o));
    },
    async completeAndClaim(cs, o, c) {
      const { disabled, promoted, out, more } = await write(() => cycleTx.immediate(cs, o, c));
      return { disabled, promoted, claimed: claimed(openDeliverySecrets(box, out), more) };
    },
    async release(workerId, ids) {
      if (ids.length === 0) return;
      await write(() => releaseTx.immediate(workerId, ids));
      signal.emit(); // claimable again now
    },
    async nextDueAt() {
      const ms = nextDue.get();
      return ms === null || ms === undefined ? null : new Date(ms);
    },
    async nextRateSlotAt(after) {
      const paying = ratePaying.all({ after: after.getTime() });
      return earliestRateSlot(
        paying.map((e) => ({ rate: e.rate_limit, tatMs: e.rate_tat })),
        after.getTime(),
      );
    },
    async stats(): Promise<QueueStats> {
      const s = statsQuery.get();
      return { pending: s?.pending ?? 0, oldestPendingAt: s?.oldest == null ? null : new Date(s.oldest) };
    },
    async retry(customerId, endpointId, deliveryId, now) {
      const run = db.transaction(() => {
        if (!ownDelivery.get({ customer_id: customerId, endpoint_id: endpointId, id: deliveryId }))
          return undefined;
        requeue.run({ id: deliveryId, now: now.getTime() });
        dropLease.run(deliveryId);
        return deliveries.get(customerId, endpointId, deliveryId);
      });
      const delivery = run.immediate();
      if (delivery) signal.emit();
      return delivery;
    },
    async recover(customerId, endpointId, since, now) {
      const run = db.transaction(() => {
        if (!ownEndpoint.get({ customer_id: customerId, endpoint_id: endpointId })) return undefined;
        return recoverQuery.run({ endpoint_id: endpointId, since: since.getTime(), now: now.getTime() })
          .changes;
      });
      const requeued = run.immediate();
      if (requeued) signal.emit();
      return requeued;
    },
    onQueued(listener) {
      const off = signal.on(listener);
      const unwatch = watcher.watch();
      return () => {
        off();
        unwatch();
      };
    },
  };
}

/**
 * How often a listening queue asks SQLite whether another process committed (`PRAGMA data_version`,
 * a few microseconds): the wake-up of a `tpcs worker` beside `tpcs serve` on one database file.
 */
export const OTHER_PROCESS_CHECK_MS = 5;

/**
 * Wakes this storage's listeners when another connection (another process: this process's store and
 * queue share one connection) commits to the database file, as PostgreSQL's NOTIFY does for its
 * queue. `PRAGMA data_version` changes on every commit of another connection, never on this one's,
 * so a process is not woken by its own claims and completions. Checked every
 * {@link OTHER_PROCESS_CHECK_MS} while anyone listens (an unref'd timer); without it, a worker in
 * another process than the API found a decision's deliveries at its next poll (500 ms by default).
 */
function otherProcessWatcher(db: Database.Database, signal: QueueSignal) {
  const version = db.prepare<[], number>('PRAGMA data_version').pluck();
  let watchers = 0;
  let timer: NodeJS.Timeout | undefined;
  let seen = 0;
  const check = () => {
    let now: number | undefined;
    try {
      now = version.get();
    } catch {
      return; // closed, or busy: the next check (or the poll) covers it
    }
    if (now === undefined || now === seen) return;
    seen = now;
    signal.emit();
  };
  return {
    watch(): () => void {
      if (watchers++ === 0) {
        seen = version.get() ?? 0;
        timer = setInterval(check, OTHER_PROCESS_CHECK_MS);
        timer.unref();
      }
      let watching = true;
      return () => {
        if (!watching) return;
        watching = false;
        if (--watchers === 0) clearInterval(timer);
      };
    },
  };
}

/** The items from position `turn` (modulo their number) onwards, then the ones before it. */
function rotate<T>(items: T[], turn: number): T[] {
  if (items.length === 0) return items;
  const start = turn % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}
