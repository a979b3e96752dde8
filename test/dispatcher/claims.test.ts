/**
 * When the dispatcher claims (issue 13): on a decision of its storage, and after a completion only
 * when that can find something: the completion promoted the next event of a third party, or freed a
 * slot that due deliveries were waiting for. It polls once a minute here, far longer than any wait: a
 * delivery that arrives was found by one of those claims. The claims are counted on the real queue,
 * those that ride on a batch of completions (`completeAndClaim`, one transaction) too.
 * Each dialect has a database of its own, so no other test's deliveries are due in it.
 */
import { describe, expect, it } from 'vitest';
import type { DeliveryQueue } from '../../src/storage/queue.js';
import { createDispatcher, type Dispatcher } from '../../src/webhooks/dispatcher/dispatcher.js';
import { DIALECTS, skipReason } from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';
import { useDatabaseAndSink } from './sink.js';

const POLL_MS = 60_000;
const WAIT = { timeout: 10_000 };

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`dispatcher claims on ${dialect}`, () => {
    const env = useDatabaseAndSink(dialect);
    let claims = 0;
    let rides = 0;

    /**
     * A dispatcher on the database's queue, its claims counted from when `body` starts; `ride`, when
     * given, runs after each claim riding on completions has committed, before the dispatcher sees it.
     */
    async function withDispatcher(
      perEndpoint: number,
      body: (d: Dispatcher) => Promise<void>,
      ride?: () => Promise<void>,
    ) {
      const counted: DeliveryQueue = {
        ...env.db.queue,
        claim(o) {
          claims++;
          return env.db.queue.claim(o);
        },
        async completeAndClaim(cs, o, c) {
          claims++;
          rides++;
          const r = await env.db.queue.completeAndClaim(cs, o, c);
          await ride?.();
          return r;
        },
      };
      const dispatcher = createDispatcher({
        queue: counted,
        allowPrivateEndpoints: true,
        pollIntervalMs: POLL_MS,
        perEndpoint,
      });
      dispatcher.start();
      try {
        await dispatcher.idle();
        claims = 0;
        rides = 0;
        await body(dispatcher);
      } finally {
        await dispatcher.stop(1000);
      }
    }

    const receivedAt = (path: string) =>
      env.sink.received.filter((r) => r.path === path).map((r) => String(r.headers['webhook-id']));

    it('claims once per decision at a trickle: completing a delivery makes nothing else claimable', async () => {
      const partner = await newPartner(env.db.store);
      await newEndpoint(env.db.store, partner, env.sink.url('/trickle'));
      const refs: string[] = [];
      for (let i = 0; i < 6; i++) refs.push(await newThirdParty(env.db.store, partner));
      await withDispatcher(8, async (dispatcher) => {
        for (const ref of refs) {
          const id = await decide(env.db.store, partner, ref, 'APPROVED');
          await waitFor(() => receivedAt('/trickle').includes(id), { ...WAIT, what: `delivery of ${id}` });
          await dispatcher.idle();
        }
        // one claim per decision (its storage's signal); a claim after each completion, or one for
        // the storage's own NOTIFY on PostgreSQL, would make it twice or three times as many (one
        // spare for a LISTEN connection that came up late and woke the loop once)
        expect(claims).toBeGreaterThanOrEqual(refs.length);
        expect(claims).toBeLessThanOrEqual(refs.length + 1);
      });
    });

    it("claims a third party's next event as soon as the completion before it promotes it", async () => {
      const partner = await newPartner(env.db.store);
      // slow enough that the later decisions are in while the first is being sent
      env.sink.on('/order', () => ({ status: 200, delayMs: 150 }));
      await newEndpoint(env.db.store, partner, env.sink.url('/order'));
      const ref = await newThirdParty(env.db.store, partner);
      await withDispatcher(8, async () => {
        const ids = [
          await decide(env.db.store, partner, ref, 'APPROVED'),
          await decide(env.db.store, partner, ref, 'REJECTED'),
          await decide(env.db.store, partner, ref, 'APPROVED'),
        ];
        await waitFor(() => receivedAt('/order').length === ids.length, {
          ...WAIT,
          what: 'the three events',
        });
        expect(receivedAt('/order')).toEqual(ids);
      });
    });

    it("claims due deliveries as soon as a completion frees the endpoint's slot they wait for", async () => {
      const partner = await newPartner(env.db.store);
      env.sink.on('/bound', () => ({ status: 200, delayMs: 100 }));
      await newEndpoint(env.db.store, partner, env.sink.url('/bound'));
      const refs: string[] = [];
      for (let i = 0; i < 4; i++) refs.push(await newThirdParty(env.db.store, partner));
      // one in flight at a time: each claim leaves the others behind, for lack of room
      await withDispatcher(1, async () => {
        const ids: string[] = [];
        for (const ref of refs) ids.push(await decide(env.db.store, partner, ref, 'APPROVED'));
        await waitFor(() => receivedAt('/bound').length === ids.length, {
          ...WAIT,
          what: 'the four deliveries',
        });
        expect(receivedAt('/bound').sort()).toEqual([...ids].sort());
        expect(env.sink.maxConcurrentPerId()).toBe(1);
        // the loop waits while the endpoint is full: the claims after completions ride on them
        expect(rides).toBeGreaterThan(0);
      });
    });
    it('claims what a decision made due while a claim rode on completions, without waiting to poll', async () => {
      const partner = await newPartner(env.db.store);
      env.sink.on('/riding', () => ({ status: 200, delayMs: 100 }));
      await newEndpoint(env.db.store, partner, env.sink.url('/riding'));
      const [first, second, third] = [
        await newThirdParty(env.db.store, partner),
        await newThirdParty(env.db.store, partner),
        await newThirdParty(env.db.store, partner),
      ];
      let decided: string | undefined;
      // while the first ride's claim is committed and not yet seen, a decision makes a delivery due
      // that the ride's claim could not see: the dispatcher hears it and must claim it
      const during = async () => {
        if (decided !== undefined || third === undefined) return;
        decided = await decide(env.db.store, partner, third, 'APPROVED');
      };
      await withDispatcher(
        1,
        async () => {
          // one in flight per endpoint: each claim leaves the other third party behind, so the claim
          // after the first completion rides on it
          await decide(env.db.store, partner, first ?? '', 'APPROVED');
          await decide(env.db.store, partner, second ?? '', 'APPROVED');
          // only the decision made during the ride goes here: nothing else would claim it in time
          await newEndpoint(env.db.store, partner, env.sink.url('/meanwhile'));
          await waitFor(() => decided !== undefined, { ...WAIT, what: 'a ride' });
          const id = decided ?? '';
          // the event goes to both endpoints: /meanwhile has room, and answers at once
          await waitFor(() => receivedAt('/meanwhile').includes(id), {
            ...WAIT,
            what: `the delivery decided during the ride (${id})`,
          });
        },
        during,
      );
    });
  });
}
