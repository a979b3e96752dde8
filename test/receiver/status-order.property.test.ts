import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEvent, type ThirdPartyCustomerStatusEvent } from '../../src/contract/index.js';
import {
  createMemoryInbox,
  createSqliteInbox,
  type InboxStore,
  type RecordOutcome,
} from '../../src/receiver/index.js';
import { eventJson, tempDir } from './helpers.js';

// Property: whatever the arrival order, batching, duplicates, timestamp ties and restarts (a new
// store opened on the same file while the old one is abandoned with statuses it has not written yet,
// as after a crash), each answer and the final status table match a plain model of the rules:
// first copy of an event_id counts; newest by event_timestamp, on a tie the later arrival; older ones
// are stale.

interface Arrival {
  id: number;
  ref: 'A' | 'B' | 'C';
  second: number;
  status: 'APPROVED' | 'REJECTED';
}

const arrival: fc.Arbitrary<Arrival> = fc.record({
  id: fc.integer({ min: 0, max: 30 }), // small: the same id arrives again (duplicates)
  ref: fc.constantFrom('A', 'B', 'C'),
  second: fc.integer({ min: 0, max: 5 }), // small: equal timestamps, decided by arrival
  status: fc.constantFrom('APPROVED', 'REJECTED'),
});

/** A step: a batch of arrivals recorded in one call, or (for file stores) a restart first. */
const steps = fc.array(
  fc.record({ restart: fc.boolean(), batch: fc.array(arrival, { minLength: 1, maxLength: 6 }) }),
  {
    minLength: 1,
    maxLength: 8,
  },
);

function toEntry(a: Arrival, firstSeen: Map<number, Arrival>) {
  // A redelivery carries the first copy's content; only the id makes it the same event.
  const event = firstSeen.get(a.id) ?? a;
  const { json } = eventJson({
    eventId: `evt_${String(event.id).padStart(3, '0')}`,
    ref: event.ref,
    status: event.status,
    at: new Date(Date.UTC(2025, 0, 1, 0, 0, event.second)).toISOString().replace('.000Z', 'Z'),
  });
  const parsed = parseEvent(json);
  if (!parsed.ok) throw new Error('test event is invalid');
  return { event: parsed.event as ThirdPartyCustomerStatusEvent, body: Buffer.from(json), receivedAt: 1 };
}

// Each restart of a NORMAL store starts a checkpointer thread anew: about 150 per run. Their program
// is plain JavaScript (src/sqlite/checkpointer.ts), so no TypeScript loader runs inside a thread.
const STORES: [string, (file: string) => InboxStore, { restartable: boolean }][] = [
  ['sqlite', (file) => createSqliteInbox(file), { restartable: true }],
  [
    'sqlite, synchronous FULL',
    (file) => createSqliteInbox(file, { synchronous: 'FULL' }),
    { restartable: true },
  ],
  ['memory', () => createMemoryInbox(), { restartable: false }],
];

describe.each(STORES)('status order, property: %s', (_name, open, { restartable }) => {
  it('answers and final statuses match the model for any order, batching and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (plan) => {
        const file = path.join(tempDir(), 'inbox.db');
        const stores: InboxStore[] = [open(file)];
        const firstSeen = new Map<number, Arrival>();
        const newest = new Map<string, Arrival>();
        try {
          for (const { restart, batch } of plan) {
            if (restart && restartable) stores.push(open(file)); // the previous one is abandoned, unclosed
            const store = stores.at(-1) as InboxStore;
            const expected: RecordOutcome[] = batch.map((a) => {
              if (firstSeen.has(a.id)) return 'duplicate';
              firstSeen.set(a.id, a);
              const current = newest.get(a.ref);
              // it arrived after the one held, so an equal timestamp is enough
              const isNewer = current === undefined || a.second >= current.second;
              if (!isNewer) return 'stale';
              newest.set(a.ref, a);
              return 'recorded';
            });
            const entries = batch.map((a) => toEntry(a, firstSeen));
            expect(await store.record(entries, { handlers: false, handleStale: false })).toEqual(expected);
          }
          const statuses = await (stores.at(-1) as InboxStore).listStatuses({
            customerId: '0201001008132685',
          });
          expect(statuses.map((s) => [s.clientCustomerRef, s.eventId, s.status])).toEqual(
            [...newest.entries()]
              .sort(([x], [y]) => (x < y ? -1 : 1))
              .map(([ref, a]) => [ref, `evt_${String(a.id).padStart(3, '0')}`, a.status]),
          );
        } finally {
          for (const store of stores) await store.close();
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000); // about 10 s in CI; a loaded machine has taken 23 s
});
