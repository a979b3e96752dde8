/**
 * PostgreSQL's one-statement decision behind a concurrent one: the statement waits for the other's row
 * lock, and its snapshot still holds the status from before the other committed. The answer must come
 * from the status the other committed, not from that snapshot.
 */
import { describe, expect, it } from 'vitest';
import { connectToSchema, settledOrWaitingForLock, skipReason, useDatabases } from '../support/databases.js';
import { decision, newPartner, newThirdParty, REASONS } from '../support/fixtures.js';

describe.skipIf(skipReason('postgres') !== undefined)(
  'a decision behind a concurrent one on postgres',
  () => {
    const db = useDatabases('postgres');

    it('changes the status the other one committed, in the same second, instead of answering unchanged', async () => {
      const partner = await newPartner(db.store);
      const ref = await newThirdParty(db.store, partner);
      const second = Math.floor(Date.now() / 1000) * 1000;
      const earlier = await db.store.recordDecision(
        decision(partner, ref, 'REJECTED', REASONS, new Date(second - 5000)),
      );
      expect(earlier.outcome).toBe('changed');

      // the other decision: APPROVED in this second, committed while ours waits for the row
      const other = await connectToSchema(db.url);
      try {
        await other.query('BEGIN');
        await other.query(
          `UPDATE third_parties SET status = 'APPROVED', reasons = NULL, last_event_at = $3, updated_at = $3
         WHERE customer_id = $1 AND client_customer_ref = $2`,
          [partner, ref, new Date(second)],
        );
        // ours: REJECTED again, with the same reasons as the status its snapshot will hold
        const ours = db.store.recordDecision(
          decision(partner, ref, 'REJECTED', REASONS, new Date(second + 200)),
        );
        // it waits for the row (or, answering from its snapshot alone, does not wait at all)
        await settledOrWaitingForLock(
          other,
          ours,
          ['%third_parties%'],
          'the decision waiting for the row lock',
        );
        await other.query('COMMIT');

        const result = await ours;
        expect(result.outcome).toBe('changed');
        if (result.outcome !== 'changed') return;
        expect(result.thirdParty.status).toBe('REJECTED');
        // stamped after the other's event, in the next second
        const stamped = JSON.parse(result.event.payload) as { event_timestamp: string };
        expect(Date.parse(stamped.event_timestamp)).toBeGreaterThan(second);
        expect((await db.store.getThirdParty(partner, ref))?.status).toBe('REJECTED');
      } finally {
        await other.end();
      }
    });
  },
);
