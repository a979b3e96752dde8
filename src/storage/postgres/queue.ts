/**
 * The delivery queue on PostgreSQL (see ../queue.ts for the terms), graphile-worker style: the claim
 * is one statement that picks each endpoint's due heads, locks the chosen ones `FOR NO KEY UPDATE SKIP
 * LOCKED` and writes their leases, so several processes claim concurrently without waiting on each
 * other and never take the same delivery. Leases are rows of `delivery_leases` (migration 013), not
 * columns of the delivery: taking one writes a small row instead of a new version of the delivery and
 * an entry in each of its indexes. Completions are written in batches with `unnest`.
 */
import pg from 'pg';
import { openDeliverySecrets, SecretBox } from '../../secrets/box.js';
import {
  type ClaimedDelivery,
  type CompleteOptions,
  type CompleteResult,
  type Completion,
  claimed,
  type DeliveryQueue,
  type QueueStats,
} from '../queue.js';
import { earliestRateSlot } from '../rate-limit.js';
import type { QueueSignal } from '../signal.js';
import { poolTimeouts, statement, withTransaction } from './db.js';
import { getDelivery } from './deliveries.js';
import { type PostgresTimeouts, parsePostgresUrl } from './index.js';
import { notifiedByOther } from './notify.js';

// The claim is the function `tpcs_claim` (migration 003; 006 adds retry_round_start to its result, 011
// the partner share, 013 the lease table, 014 one ordered read of each partner's heads): per-partner
// advisory try-lock, then each locked partner's oldest due heads (deliveries.head, kept by triggers) up
// to the endpoint's and the partner's room, locked FOR NO KEY UPDATE SKIP LOCKED, shared out across
// partners in turns, leased and returned with the payload and secrets, in one round trip; 024 adds
// whether it left due heads behind.
const CLAIM = /* sql */ `SELECT * FROM tpcs_claim($1::int, $2::timestamptz, $3::int, $4::text, $5::int, $6::int)`;

interface ClaimRow {
  /** NULL in the one row returned when nothing was leased (it carries `more`). */
  id: string | null;
  event_id: string;
  event_seq: string;
  endpoint_id: string;
  customer_id: string;
  client_customer_ref: string;
  attempt_count: number;
  retry_round_start: number;
  created_at: Date;
  url: string;
  payload: string;
  secrets: string[];
  more: boolean;
}

// The completion is the function `tpcs_complete` (migration 014: a function, so that it is planned
// with index scans whatever the lease table's statistics say). Each delivery is locked first, as the
// claim locks it before its lease, so a late completion and a claim taking its lease over cannot
// deadlock. Attempts are inserted only for deliveries that still exist (the endpoint may have been
// deleted). The outcome is fenced by the lease: the worker settles the delivery only if it still holds
// the lease, which it deletes; a DELETE tests a row changed meanwhile on its latest version, so a lease
// another worker took over is left alone and that worker decides. The attempt was made all the same, so
// it is counted: attempt_count stays the number of attempts listed. It returns how many next heads
// its update promoted (migration 024).
const COMPLETE = /* sql */ `SELECT tpcs_complete($1::text[], $2::timestamptz[], $3::int[], $4::int[],
  $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::text, $10::text[]) AS promoted`;

const completeStatement = statement<{ promoted: number }>('queue_complete', COMPLETE);

// The completion and the claim after it, in one round trip and one commit (migration 028): the claim's
// rows, each with the completion's promoted count (a NULL-id row carries it when nothing was leased).
const completeClaimStatement = statement<ClaimRow & { promoted: number }>(
  'queue_complete_claim',
  `SELECT * FROM tpcs_complete_claim($1::text[], $2::timestamptz[], $3::int[], $4::int[], $5::text[],
     $6::text[], $7::text[], $8::timestamptz[], $9::text, $10::text[], $11::int, $12::timestamptz, $13::int,
     $14::int, $15::int)`,
);

/** A claim's rows as deliveries (the NULL-id row that carries `more` left out). */
function leasedFrom(rows: readonly ClaimRow[]): ClaimedDelivery[] {
  const leased: ClaimedDelivery[] = [];
  for (const r of rows) {
    if (r.id === null) continue;
    leased.push({
      id: r.id,
      eventId: r.event_id,
      eventSeq: Number(r.event_seq),
      endpointId: r.endpoint_id,
      customerId: r.customer_id,
      clientCustomerRef: r.client_customer_ref,
      url: r.url,
      payload: r.payload,
      secrets: r.secrets,
      attemptCount: r.attempt_count,
      retryRoundStart: r.retry_round_start,
      createdAt: r.created_at,
    });
  }
  return leased;
}

/**
 * The queue on its own pool (`?schema=` and `?max=` as for the store), sharing the storage's signal:
 * `onQueued` hears this process's decisions, retries and recovers at once, and other processes'
 * through LISTEN. Opened by `openStorage` after the store has migrated. `timeoutMs` bounds each
 * connection and statement, as for the store (the LISTEN connection included), so a stalled server
 * fails a claim rather than holding its dispatcher.
 */
export function openPostgresQueue(
  url: string,
  signal: QueueSignal,
  { timeoutMs, box }: PostgresTimeouts & { box?: SecretBox } = {},
): DeliveryQueue & { close(): Promise<void> } {
  const parsed = parsePostgresUrl(url).config;
  const config = timeoutMs === undefined ? parsed : { ...parsed, ...poolTimeouts(timeoutMs) };
  const pool = new pg.Pool({ max: 4, ...config });
  pool.on('error', () => {}); // an idle client's error surfaces on its next query
  const listener = deliveryListener(config, signal.source);
  return {
    // the store that shares `signal` sends the NOTIFY for the other processes (PostgresStore)
    ...postgresDeliveryQueue(pool, () => signal.emit(), box),
    onQueued(listener_) {
      const local = signal.on(listener_);
      const remote = listener.subscribe(listener_);
      return () => {
        local();
        remote();
      };
    },
    async close() {
      await listener.close();
      await pool.end();
    },
  };
}

/** Reconnect delay of the LISTEN connection after it fails; polling covers the gap. */
const RELISTEN_MS = 1000;

/**
 * LISTEN tpcs_deliveries (NOTIFYs from notify.ts) on a dedicated connection, opened with the first subscriber
 * and reopened after a failure. Notifications from other schemas on the same database are ignored.
 */
function deliveryListener(config: pg.PoolConfig, source: string) {
  const listeners = new Set<() => void>();
  let client: pg.Client | undefined;
  let connecting: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  const connect = () => {
    if (closed || client || connecting || listeners.size === 0) return;
    const c = new pg.Client(config);
    const fail = () => {
      if (client === c) client = undefined;
      c.end().catch(() => {});
      if (!closed && !retry) {
        retry = setTimeout(() => {
          retry = undefined;
          connect();
        }, RELISTEN_MS);
        retry.unref();
      }
    };
    c.on('error', fail);
    c.on('end', () => {
      if (client === c) fail();
    });
    connecting = (async () => {
      await c.connect();
      const { rows } = await c.query<{ schema: string }>('SELECT current_schema() AS schema');
      const schema = rows[0]?.schema;
      c.on('notification', (n) => {
        if (n.channel !== 'tpcs_deliveries' || schema === undefined || n.payload === undefined) return;
        // this storage's own NOTIFYs: its listeners heard those commits from the signal already
        if (notifiedByOther(n.payload, schema, source)) for (const l of listeners) l();
      });
      await c.query('LISTEN tpcs_deliveries');
      if (closed) throw new Error('closed');
      client = c;
      // anything committed while (re)connecting was missed: wake everyone once
      for (const l of listeners) l();
    })()
      .catch(fail)
      .finally(() => {
        connecting = undefined;
      });
  };

  return {
    subscribe(listener: () => void): () => void {
      listeners.add(listener);
      connect();
      return () => {
        listeners.delete(listener);
      };
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await connecting;
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}

/**
 * The queue's operations on an existing pool whose search_path holds the migrated tables; `queued` is
 * called after a commit that made deliveries claimable (release, retry, recover).
 */
export function postgresDeliveryQueue(
  pool: pg.Pool,
  queued: () => void,
  box: SecretBox = new SecretBox(),
): Omit<DeliveryQueue, 'onQueued'> {
  const claim: DeliveryQueue['claim'] = async (o) => {
    const { rows } = await pool.query<ClaimRow>({
      name: 'tpcs_queue_claim',
      text: CLAIM,
      values: [o.perEndpoint, o.now, o.limit, o.workerId, o.leaseMs, o.perPartner ?? null],
    });
    // secrets are stored encrypted: a value that does not decrypt fails the claim loudly (its
    // deliveries wait for their lease to end) rather than be signed with garbage
    return claimed(openDeliverySecrets(box, leasedFrom(rows)), rows[0]?.more ?? false);
  };

  /** The completion's statement parameters, and each endpoint's latest attempt and first failure. */
  const completionParams = (cs: Completion[], o: CompleteOptions) => {
    // The endpoint's clock follows its latest attempt in the batch.
    const lastByEndpoint = new Map<string, Completion>();
    const firstFailure = new Map<string, Date>();
    for (const c of [...cs].sort((a, b) => a.at.getTime() - b.at.getTime())) {
      lastByEndpoint.set(c.endpointId, c);
      if (c.succeeded) firstFailure.delete(c.endpointId);
      else if (!firstFailure.has(c.endpointId)) firstFailure.set(c.endpointId, c.at);
    }
    const ok = [...lastByEndpoint.values()].filter((c) => c.succeeded).map((c) => c.endpointId);
    const params = [
      cs.map((c) => c.deliveryId),
      cs.map((c) => c.at),
      cs.map((c) => Math.round(c.durationMs)),
      cs.map((c) => c.statusCode),
      cs.map((c) => c.error),
      cs.map((c) => c.responseExcerpt),
      cs.map((c) => c.next.status),
      cs.map((c) => (c.next.status === 'pending' ? c.next.nextAttemptAt : null)),
      o.workerId,
      ok,
    ];
    return { params, lastByEndpoint, firstFailure };
  };
  // A batch of successes (the common case) is one statement, atomic on its own: one round trip
  // instead of BEGIN, statements, COMMIT.
  const successesOnly = (cs: Completion[]) =>
    cs.every((c) => c.succeeded && c.throttleUntil === undefined && c.disableReason === undefined);

  const complete: DeliveryQueue['complete'] = async (cs, o) => {
    if (cs.length === 0) return { disabled: [], promoted: 0 };
    const { params, lastByEndpoint, firstFailure } = completionParams(cs, o);
    if (successesOnly(cs)) {
      const { rows } = await completeStatement.run(pool, params);
      return { disabled: [], promoted: rows[0]?.promoted ?? 0 };
    }
    return withTransaction(pool, async (client) => {
      const { rows } = await completeStatement.run(client, params);
      const promoted = rows[0]?.promoted ?? 0;
      const throttles = cs.filter((c) => c.throttleUntil !== undefined);
      if (throttles.length > 0) {
        await client.query(
          `UPDATE endpoints e SET throttled_until = greatest(coalesce(e.throttled_until, t.until), t.until)
             FROM (SELECT id, max(until) AS until FROM unnest($1::text[], $2::timestamptz[]) AS t(id, until)
                   GROUP BY id) t
             WHERE e.id = t.id`,
          [throttles.map((c) => c.endpointId), throttles.map((c) => c.throttleUntil)],
        );
      }
      const toDisable = new Map<string, string>();
      for (const c of cs) if (c.disableReason !== undefined) toDisable.set(c.endpointId, c.disableReason);
      const failing = [...firstFailure.entries()].filter(
        ([id]) => !toDisable.has(id) && lastByEndpoint.get(id)?.succeeded === false,
      );
      if (failing.length > 0) {
        const { rows } = await client.query<{ id: string; failing_since: Date }>(
          `UPDATE endpoints e SET failing_since = coalesce(e.failing_since, f.at)
             FROM unnest($1::text[], $2::timestamptz[]) AS f(id, at)
             WHERE e.id = f.id AND e.enabled
             RETURNING e.id, e.failing_since`,
          [failing.map(([id]) => id), failing.map(([, at]) => at)],
        );
        for (const r of rows) {
          const last = lastByEndpoint.get(r.id);
          if (last && last.at.getTime() - r.failing_since.getTime() >= o.failureWindowMs) {
            toDisable.set(r.id, `every delivery attempt has failed since ${r.failing_since.toISOString()}`);
          }
        }
      }
      const disabled: CompleteResult['disabled'] = [];
      for (const [endpointId, reason] of toDisable) {
        const r = await client.query(
          `UPDATE endpoints SET enabled = false, disabled_reason = $2, disabled_at = now(), failing_since = NULL,
               updated_at = now()
             WHERE id = $1 AND enabled`,
          [endpointId, reason],
        );
        if ((r.rowCount ?? 0) > 0) disabled.push({ endpointId, reason });
      }
      return { disabled, promoted };
    });
  };

  return {
    claim,
    complete,

    async completeAndClaim(cs, o, c) {
      // a batch with failures writes more than the one statement, and each process claims for itself
      if (cs.length === 0 || !successesOnly(cs) || c.workerId !== o.workerId) {
        const done = await complete(cs, o);
        return { ...done, claimed: await claim(c) };
      }
      const { rows } = await completeClaimStatement.run(pool, [
        ...completionParams(cs, o).params,
        c.perEndpoint,
        c.now,
        c.limit,
        c.leaseMs,
        c.perPartner ?? null,
      ]);
      return {
        disabled: [],
        promoted: rows[0]?.promoted ?? 0,
        claimed: claimed(openDeliverySecrets(box, leasedFrom(rows)), rows[0]?.more ?? false),
      };
    },

    async release(workerId, ids) {
      if (ids.length === 0) return;
      // the deliveries first, then their leases (the lock order of the claim)
      const r = await pool.query(
        `WITH locked AS (SELECT id FROM deliveries WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE)
         DELETE FROM delivery_leases l USING locked WHERE l.delivery_id = locked.id AND l.locked_by = $2`,
        [ids, workerId],
      );
      // released leases are claimable now: wake the other processes
      if (r.rowCount) queued();
    },

    async nextDueAt() {
      // only a head can be due: each enabled endpoint's earliest, from deliveries_heads
      const { rows } = await pool.query<{ at: Date | null }>(
        `SELECT min(h.at) AS at FROM endpoints e CROSS JOIN LATERAL (
           SELECT d.next_attempt_at AS at FROM deliveries d
           WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.head
           ORDER BY d.next_attempt_at LIMIT 1
         ) h
         WHERE e.enabled`,
      );
      return rows[0]?.at ?? null;
    },

    async nextRateSlotAt(after) {
      // limited endpoints whose budget was spent after `after`, with a head pending
      // (endpoints_rate_limited holds only limited endpoints: empty, and this cheap, while none is)
      const { rows } = await pool.query<{ rate_limit: number; rate_tat: Date }>({
        name: 'tpcs_queue_rate_slot',
        text: `SELECT e.rate_limit, e.rate_tat FROM endpoints e
               WHERE e.rate_limit IS NOT NULL AND e.rate_tat > $1 AND e.enabled
                 AND (e.throttled_until IS NULL OR e.throttled_until <= $1)
                 AND EXISTS (SELECT 1 FROM deliveries d
                             WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.head)`,
        values: [after],
      });
      return earliestRateSlot(
        rows.map((r) => ({ rate: r.rate_limit, tatMs: r.rate_tat.getTime() })),
        after.getTime(),
      );
    },

    async stats(): Promise<QueueStats> {
      const { rows } = await pool.query<{ pending: number; oldest: Date | null }>(
        `SELECT count(*)::int AS pending, min(created_at) AS oldest FROM deliveries WHERE status = 'pending'`,
      );
      return { pending: rows[0]?.pending ?? 0, oldestPendingAt: rows[0]?.oldest ?? null };
    },

    async retry(customerId, endpointId, deliveryId, now) {
      // any lease ends with it: a worker still sending it can no longer settle it (the delivery is
      // updated, so locked, before its lease is deleted: the lock order of the claim)
      const { rows } = await pool.query<{ n: number }>(
        `WITH r AS (
           UPDATE deliveries d SET status = 'pending', next_attempt_at = $4, updated_at = $4
           FROM endpoints e
           WHERE d.id = $3 AND d.endpoint_id = $2 AND e.id = d.endpoint_id AND e.customer_id = $1
           RETURNING d.id
         ),
         ended AS (DELETE FROM delivery_leases l USING r WHERE l.delivery_id = r.id)
         SELECT count(*)::int AS n FROM r`,
        [customerId, endpointId, deliveryId, now],
      );
      if (!rows[0]?.n) return undefined;
      queued(); // due now: every process's dispatchers wake, not only this one's
      return getDelivery(pool, customerId, endpointId, deliveryId);
    },

    async recover(customerId, endpointId, since, now) {
      const own = await pool.query('SELECT 1 FROM endpoints WHERE id = $1 AND customer_id = $2', [
        endpointId,
        customerId,
      ]);
      if (own.rowCount === 0) return undefined;
      const requeued = await withTransaction(pool, async (client) => {
        await client.query(
          `SELECT tpcs_lock_delivery_keys(ARRAY(
             SELECT id FROM deliveries WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2))`,
          [endpointId, since],
        );
        const r = await client.query(
          // a new retry round: the schedule starts over from here, attempt_count keeps counting
          `UPDATE deliveries SET status = 'pending', retry_round_start = attempt_count, next_attempt_at = $3,
             updated_at = $3
           WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2`,
          [endpointId, since, now],
        );
        return r.rowCount ?? 0;
      });
      if (requeued > 0) queued(); // after the commit: every process's dispatchers wake
      return requeued;
    },
  };
}
