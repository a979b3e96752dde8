/**
 * The grouping itself (src/storage/decision-groups.ts), with writers that record what they were given:
 * how many go alone, what waits, how groups are cut and answered. The stores' own group commit, on real
 * databases, is test/storage/decision-groups.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DecisionGroups, MAX_DECISION_GROUP } from '../../src/storage/decision-groups.js';
import type {
  BatchDecisionResult,
  ComplianceDecisionInput,
  DecisionResult,
} from '../../src/storage/store.js';
import { decision } from '../support/fixtures.js';

const PARTNER = '0201001008132685';
const d = (ref: string): ComplianceDecisionInput => decision(PARTNER, ref, 'APPROVED', null, new Date());
const notFound: DecisionResult = { outcome: 'not_found' };

/** A writer whose calls finish only when told to. */
function writers(alone: number) {
  const calls: { kind: 'one' | 'group'; refs: string[]; finish: () => void }[] = [];
  const groups = new DecisionGroups({
    alone,
    writeOne: (x) =>
      new Promise<DecisionResult>((resolve) => {
        calls.push({ kind: 'one', refs: [x.clientCustomerRef], finish: () => resolve(notFound) });
      }),
    writeGroup: (list) =>
      new Promise<BatchDecisionResult[]>((resolve) => {
        calls.push({
          kind: 'group',
          refs: list.map((x) => x.clientCustomerRef),
          finish: () => resolve(list.map(() => notFound)),
        });
      }),
  });
  return { groups, calls };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('DecisionGroups', () => {
  it('writes the first `alone` decisions alone, groups the rest in issue order, one group at a time', async () => {
    const { groups, calls } = writers(2);
    const answers = ['a', 'b', 'c', 'd', 'e'].map((ref) => groups.record(d(ref)));
    await turn();
    expect(calls.map((c) => [c.kind, c.refs])).toEqual([
      ['one', ['a']],
      ['one', ['b']],
      ['group', ['c', 'd', 'e']],
    ]);
    // an alone slot is free again, but a group is being written: later decisions wait for the next one
    calls[0]?.finish();
    await turn();
    const later = [groups.record(d('f')), groups.record(d('g'))];
    await turn();
    expect(calls).toHaveLength(3);
    calls[2]?.finish();
    await turn();
    await turn();
    expect(calls.map((c) => [c.kind, c.refs])).toHaveLength(4);
    expect(calls[3]?.refs).toEqual(['f', 'g']);
    calls[1]?.finish();
    calls[3]?.finish();
    expect(await Promise.all([...answers, ...later])).toEqual(Array(7).fill(notFound));
    // nothing waits and nothing is in flight: alone again
    void groups.record(d('h'));
    expect(calls.at(-1)).toMatchObject({ kind: 'one', refs: ['h'] });
  });

  it('without writeOne, groups every decision; cuts groups at MAX_DECISION_GROUP', async () => {
    const { groups, calls } = writers(0);
    const answers = Array.from({ length: MAX_DECISION_GROUP + 5 }, (_, i) => groups.record(d(`r${i}`)));
    await turn();
    expect(calls.map((c) => c.refs.length)).toEqual([MAX_DECISION_GROUP]);
    calls[0]?.finish();
    await turn();
    await turn();
    expect(calls.map((c) => c.refs.length)).toEqual([MAX_DECISION_GROUP, 5]);
    calls[1]?.finish();
    expect(await Promise.all(answers)).toHaveLength(MAX_DECISION_GROUP + 5);
  });

  it('rejects a refused decision alone, and a whole group when its write fails', async () => {
    const refusal = new Error('too far ahead');
    let fail = false;
    const groups = new DecisionGroups({
      writeGroup: async (list) => {
        if (fail) throw new Error('connection lost');
        return list.map((x) =>
          x.clientCustomerRef === 'bad' ? { outcome: 'refused', error: refusal } : notFound,
        );
      },
    });
    const first = await Promise.allSettled([
      groups.record(d('a')),
      groups.record(d('bad')),
      groups.record(d('c')),
    ]);
    expect(first).toEqual([
      { status: 'fulfilled', value: notFound },
      { status: 'rejected', reason: refusal },
      { status: 'fulfilled', value: notFound },
    ]);
    fail = true;
    const second = await Promise.allSettled([groups.record(d('a')), groups.record(d('c'))]);
    expect(second.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await groups.record(d('a'))).toEqual(notFound); // and goes on after
  });
});
