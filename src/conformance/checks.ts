/**
 * The conformance checks: each one builds a request (signed with the receiver's secret, unless the
 * signature is the point) and says which answer the contract requires.
 *
 * What counts, and why:
 * - `accepted`: 200. The seed's receiver answers 200 for a received event; a duplicate or an old
 *   event is still received (the receiver ignores it, the sender must not retry it).
 * - `invalid`: 400 and nothing else: the seed's "invalid payload", which the sender treats as
 *   permanent. A 2xx means the receiver took an event it cannot have understood; a 5xx makes the
 *   sender retry bytes that can never succeed.
 * - `refused` (signature problems): 401 or 403 pass. Any other 4xx except 400 is a warning (refused,
 *   but 401 is what senders expect). 400 fails: it tells the sender the payload is invalid, so a
 *   secret mismatch would permanently fail real events instead of having them retried until the
 *   secret is fixed. A 2xx fails: the receiver accepted a message anybody could have forged.
 * - `too_large` (optional): 413 passes; another 4xx or a 2xx warns (the contract sets no limit, but a
 *   receiver that reads any size can be made to exhaust its memory); a 5xx or no answer fails.
 *
 * The order checks (order-checks.ts) also say which status the receiver must hold afterwards
 * (`holds`); observe.ts explains how that is seen from outside.
 */
import { randomUUID } from 'node:crypto';
import { buildEvent, type CustomerStatus, type Reason } from '../contract/index.js';
import { generateSecret, signWebhook } from '../signing/index.js';

/** Which answer a check requires. */
export type Expectation = 'accepted' | 'invalid' | 'refused' | 'too_large';

/** One request of a check. */
export interface CheckRequest {
  headers: Record<string, string>;
  body: string | Uint8Array;
  /** Order checks: the event this request carries, and what a receiver must make of it. */
  sent?: SentEvent;
}

/** An event an order check sends, with the `outcome` a kit-style 200 body must report for it. */
export interface SentEvent {
  customerId: string;
  clientCustomerRef: string;
  status: CustomerStatus;
  /** `recorded`: it is now the held status; `stale`: it arrived after a newer one and is ignored. */
  outcome: 'recorded' | 'stale';
}

/** What a check's request is built from. */
export interface CheckContext {
  secret: string;
  /** Unique per run, so references and ids never collide with an earlier run's events. */
  runId: string;
  customerId: string;
  /** Unix seconds. */
  now: () => number;
}

/** One conformance check. */
export interface Check {
  id: string;
  /** A short sentence for the table. */
  title: string;
  group: 'valid events' | 'invalid payloads' | 'signatures' | 'order' | 'limits';
  expect: Expectation;
  /**
   * The contract rule the check tests, in plain words, named by a failure's note: after the held
   * status (`kept REJECTED: <rule>`) when the check has `holds`, else after the answer's own note.
   */
  rule?: string;
  /**
   * Order checks: the status the receiver must hold for the events' third party once every request
   * has been answered (the requests carry `sent`).
   */
  holds?: CustomerStatus;
  /**
   * The requests to send, in order; only the last answer is judged (earlier ones set the stage, e.g.
   * the first copy of a duplicate, which must itself be accepted).
   */
  requests(ctx: CheckContext): CheckRequest[];
}

export const REASON: Reason = {
  code: 'COMPLIANCE_CHECK_FAILED',
  reason: 'Compliance check failed due to validation or regulatory issues',
};

let counter = 0;
/** A client_customer_ref nobody used before: each check speaks about a third party of its own. */
export const ref = (ctx: CheckContext) => `CONF_${ctx.runId}_${++counter}`;

/** A valid event for this run, as an object to mutate and as the builder's exact JSON. */
function validEvent(ctx: CheckContext, status: 'APPROVED' | 'REJECTED' = 'APPROVED') {
  const { json } = buildEvent({
    customerId: ctx.customerId,
    clientCustomerRef: ref(ctx),
    status,
    ...(status === 'REJECTED' ? { reasons: [REASON] } : {}),
  });
  return { event: JSON.parse(json) as Record<string, unknown> & { data: Record<string, unknown> }, json };
}

/** Signs `body` with the run's secret (or `secrets`), at `timestamp` (default now). */
export function signed(
  ctx: CheckContext,
  body: string | Uint8Array,
  options: { id?: string; timestamp?: number; secrets?: string[] } = {},
): CheckRequest {
  const headers = signWebhook({
    id: options.id ?? randomUUID(),
    timestamp: options.timestamp ?? ctx.now(),
    body,
    secrets: options.secrets ?? [ctx.secret],
  });
  return { headers: { ...headers, 'content-type': 'application/json' }, body };
}

/** An invalid-payload check: a valid event changed by `mutate` (or replaced by its text). */
function invalid(id: string, title: string, mutate: (ctx: CheckContext) => string): Check {
  return {
    id,
    title,
    group: 'invalid payloads',
    expect: 'invalid',
    requests: (ctx) => [signed(ctx, mutate(ctx))],
  };
}

/** `mutate` applied to a valid APPROVED event object, then serialised. */
function mutated(edit: (e: ReturnType<typeof validEvent>['event'], ctx: CheckContext) => void) {
  return (ctx: CheckContext) => {
    const { event } = validEvent(ctx);
    edit(event, ctx);
    return JSON.stringify(event);
  };
}

/** Every check, in the order they run. */
export const CHECKS: readonly Check[] = [
  {
    id: 'approved',
    title: 'APPROVED event',
    group: 'valid events',
    expect: 'accepted',
    requests: (ctx) => {
      const { event, json } = validEvent(ctx, 'APPROVED');
      return [signed(ctx, json, { id: String(event.event_id) })];
    },
  },
  {
    id: 'rejected',
    title: 'REJECTED event with reasons',
    group: 'valid events',
    expect: 'accepted',
    requests: (ctx) => {
      const { event, json } = validEvent(ctx, 'REJECTED');
      return [signed(ctx, json, { id: String(event.event_id) })];
    },
  },
  {
    id: 'rejected-without-reasons',
    title: "REJECTED event without reasons (the seed's first example)",
    group: 'valid events',
    expect: 'accepted',
    requests: (ctx) => {
      const { event } = validEvent(ctx, 'REJECTED');
      delete event.data.reasons;
      return [signed(ctx, JSON.stringify(event), { id: String(event.event_id) })];
    },
  },
  {
    id: 'duplicate',
    title: 'the same event twice (a retry): both 200',
    group: 'valid events',
    expect: 'accepted',
    requests: (ctx) => {
      const { event, json } = validEvent(ctx, 'APPROVED');
      const id = String(event.event_id);
      return [signed(ctx, json, { id }), signed(ctx, json, { id, timestamp: ctx.now() + 1 })];
    },
  },
  {
    id: 'rotation',
    title: 'two signatures during a rotation, only one with this secret',
    group: 'valid events',
    expect: 'accepted',
    requests: (ctx) => {
      const { event, json } = validEvent(ctx, 'APPROVED');
      return [signed(ctx, json, { id: String(event.event_id), secrets: [generateSecret(), ctx.secret] })];
    },
  },
  invalid(
    'wrong-event-type',
    'wrong event_type',
    mutated((e) => {
      e.event_type = 'THIRD PARTY CUSTOMER CREATED';
    }),
  ),
  invalid(
    'unsupported-version',
    'unsupported major version (v2.0.0)',
    mutated((e) => {
      e.version = 'v2.0.0';
    }),
  ),
  invalid(
    'bad-timestamp',
    'event_timestamp not YYYY-MM-DDTHH:MM:SSZ',
    mutated((e) => {
      e.event_timestamp = '2024-12-24 08:10:11';
    }),
  ),
  invalid(
    'impossible-date',
    'event_timestamp on an impossible date (Feb 30)',
    mutated((e) => {
      e.event_timestamp = '2023-02-30T10:00:00Z';
    }),
  ),
  invalid(
    'missing-data',
    'data missing',
    mutated((e) => {
      delete (e as Record<string, unknown>).data;
    }),
  ),
  invalid(
    'missing-event-id',
    'event_id missing',
    mutated((e) => {
      delete (e as Record<string, unknown>).event_id;
    }),
  ),
  invalid(
    'bad-status',
    'data.status PENDING',
    mutated((e) => {
      e.data.status = 'PENDING';
    }),
  ),
  invalid(
    'approved-with-reasons',
    'APPROVED with reasons',
    mutated((e) => {
      e.data.reasons = [REASON];
    }),
  ),
  invalid(
    'empty-reasons',
    'REJECTED with an empty reasons list',
    mutated((e) => {
      e.data.status = 'REJECTED';
      e.data.reasons = [];
    }),
  ),
  invalid(
    'wrong-types',
    'wrong types (customer_id a number, reasons an object)',
    mutated((e) => {
      e.data.customer_id = 201001008132685;
      e.data.status = 'REJECTED';
      e.data.reasons = { code: 'X', reason: 'y' };
    }),
  ),
  invalid('duplicate-keys', 'duplicate key ("status" twice)', (ctx) =>
    validEvent(ctx).json.replace('"status":"APPROVED"', '"status":"REJECTED","status":"APPROVED"'),
  ),
  invalid(
    'trailing-garbage',
    'trailing data after the JSON object',
    (ctx) => `${validEvent(ctx).json} {"x":1}`,
  ),
  invalid('not-json', 'a body that is not JSON', () => 'event_id=1&status=APPROVED'),
  invalid('array', 'a JSON array instead of an object', (ctx) => `[${validEvent(ctx).json}]`),
  {
    id: 'bad-signature',
    title: 'signed with another secret',
    group: 'signatures',
    expect: 'refused',
    requests: (ctx) => [signed(ctx, validEvent(ctx).json, { secrets: [generateSecret()] })],
  },
  {
    id: 'tampered-body',
    title: 'body changed after signing',
    group: 'signatures',
    expect: 'refused',
    requests: (ctx) => {
      const { event, json } = validEvent(ctx, 'REJECTED');
      const request = signed(ctx, json, { id: String(event.event_id) });
      const approved = json
        .replace('"status":"REJECTED"', '"status":"APPROVED"')
        .replace(/,"reasons":\[.*?\]/, '');
      return [{ ...request, body: approved }];
    },
  },
  {
    id: 'missing-signature',
    title: 'no webhook-id/-timestamp/-signature headers',
    group: 'signatures',
    expect: 'refused',
    requests: (ctx) => [{ headers: { 'content-type': 'application/json' }, body: validEvent(ctx).json }],
  },
  {
    id: 'expired-timestamp',
    title: 'correctly signed 10 minutes ago (replay)',
    group: 'signatures',
    expect: 'refused',
    requests: (ctx) => {
      const { event, json } = validEvent(ctx);
      return [signed(ctx, json, { id: String(event.event_id), timestamp: ctx.now() - 600 })];
    },
  },
];

/** The optional body-size check: a signed JSON body of `bytes` bytes. */
export function tooLargeCheck(bytes: number): Check {
  return {
    id: 'too-large',
    title: `a ${Math.round(bytes / 1024)} KiB body`,
    group: 'limits',
    expect: 'too_large',
    requests: (ctx) => {
      const { event } = validEvent(ctx);
      const padding = 'x'.repeat(Math.max(0, bytes - 200));
      return [signed(ctx, JSON.stringify({ ...event, padding }), { id: String(event.event_id) })];
    },
  };
}
