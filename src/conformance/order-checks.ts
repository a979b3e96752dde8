/**
 * The order checks: which event a receiver keeps when one third party's events arrive out of order
 * or in the same second, and the refusal of an event dated in the future. The contract's rules:
 *
 * 1. For one third party (`data.customer_id` + `data.client_customer_ref`) the event with the newest
 *    `event_timestamp` is held.
 * 2. On an equal `event_timestamp` (whole seconds, so senders can repeat one) the later arrival wins;
 *    a repeated `event_id` is still a duplicate.
 * 3. An older event arriving after a newer one is stale: answered 200, and it does not win.
 * 4. An `event_timestamp` more than 5 minutes ahead of the receiver's clock is an invalid payload (400).
 *
 * A 200 does not show which event won: observe.ts reads it from a status URL, or from the `outcome`
 * a kit-style receiver puts in its 200 bodies.
 */
import { randomUUID } from 'node:crypto';
import { buildEvent, type CustomerStatus } from '../contract/index.js';
import {
  type Check,
  type CheckContext,
  type CheckRequest,
  REASON,
  ref,
  type SentEvent,
  signed,
} from './checks.js';

/** How far ahead the far-future event is dated: well past the contract's 5 minutes. */
const FUTURE_SECONDS = 3600;

/** The signed event `sent` describes, dated `timestamp` (unix seconds), as a request of an order check. */
function orderEvent(
  ctx: CheckContext,
  sent: SentEvent,
  timestamp: number,
  eventId: string = randomUUID(),
): CheckRequest {
  const { json } = buildEvent({
    eventId,
    timestamp: new Date(timestamp * 1000),
    customerId: sent.customerId,
    clientCustomerRef: sent.clientCustomerRef,
    status: sent.status,
    ...(sent.status === 'REJECTED' ? { reasons: [REASON] } : {}),
  });
  return { ...signed(ctx, json, { id: eventId }), sent };
}

/** A fresh third party, and its events' expectations. */
function thirdParty(ctx: CheckContext) {
  const who = { customerId: ctx.customerId, clientCustomerRef: ref(ctx) };
  return (status: CustomerStatus, outcome: SentEvent['outcome']): SentEvent => ({ ...who, status, outcome });
}

/**
 * Two random event ids, the greater first. The first arrival gets the greater id, so a receiver that
 * breaks ties by the greater `event_id`, or keeps the first arrival, keeps the wrong event on every
 * run rather than on half of them.
 */
function idsGreaterFirst(): [string, string] {
  const a = randomUUID();
  const b = randomUUID();
  return a > b ? [a, b] : [b, a];
}

/** The order checks, in the order they run (after the signature checks). */
export const ORDER_CHECKS: readonly Check[] = [
  {
    id: 'same-second',
    title: 'same second: REJECTED then APPROVED, the later wins',
    group: 'order',
    expect: 'accepted',
    rule: 'on an equal event_timestamp the later arrival must win',
    holds: 'APPROVED',
    requests: (ctx) => {
      const event = thirdParty(ctx);
      const now = ctx.now();
      const [first, second] = idsGreaterFirst();
      return [
        orderEvent(ctx, event('REJECTED', 'recorded'), now, first),
        orderEvent(ctx, event('APPROVED', 'recorded'), now, second),
      ];
    },
  },
  {
    id: 'older-after-newer',
    title: 'older REJECTED after newer APPROVED: APPROVED kept',
    group: 'order',
    expect: 'accepted',
    rule: 'an older event_timestamp must not replace a newer one',
    holds: 'APPROVED',
    requests: (ctx) => {
      const event = thirdParty(ctx);
      const now = ctx.now();
      return [
        orderEvent(ctx, event('APPROVED', 'recorded'), now),
        orderEvent(ctx, event('REJECTED', 'stale'), now - 60),
      ];
    },
  },
  {
    id: 'far-future',
    title: 'event_timestamp 1 hour ahead (signed now)',
    group: 'order',
    expect: 'invalid',
    rule: "an event_timestamp more than 5 minutes ahead of the receiver's clock is invalid",
    requests: (ctx) => {
      const { headers, body } = orderEvent(
        ctx,
        thirdParty(ctx)('APPROVED', 'recorded'),
        ctx.now() + FUTURE_SECONDS,
      );
      return [{ headers, body }];
    },
  },
];
