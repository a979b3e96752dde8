/** Judging one answer against a check's expectation; the rules are explained in checks.ts. */
import type { Expectation } from './checks.js';
import type { PostOutcome } from './post.js';

/** pass and warn do not fail a run; fail does. */
export type Verdict = 'pass' | 'warn' | 'fail';

/** A verdict and the sentence that explains it. */
export interface Judgement {
  verdict: Verdict;
  note: string;
}

const is2xx = (s: number) => s >= 200 && s < 300;

/**
 * Judges `outcome` for a check that expects `expect`.
 *
 * @example
 * judge('invalid', { ok: true, status: 200, body: '', durationMs: 3 }).verdict; // 'fail'
 */
export function judge(expect: Expectation, outcome: PostOutcome): Judgement {
  if (!outcome.ok) return { verdict: 'fail', note: `no answer: ${outcome.error}` };
  const s = outcome.status;
  switch (expect) {
    case 'accepted':
      if (s === 200) return { verdict: 'pass', note: '' };
      if (is2xx(s))
        return { verdict: 'warn', note: `${s}: the contract says 200 (any 2xx counts as delivered)` };
      return { verdict: 'fail', note: 'a valid event must be answered 200' };
    case 'invalid':
      if (s === 400) return { verdict: 'pass', note: '' };
      if (is2xx(s)) return { verdict: 'fail', note: 'accepted an invalid payload: it must be answered 400' };
      if (s === 401 || s === 403) {
        return {
          verdict: 'fail',
          note: 'the signature is valid here: an invalid payload must be answered 400',
        };
      }
      if (s >= 500)
        return {
          verdict: 'fail',
          note: 'a 5xx makes the sender retry bytes that cannot succeed: answer 400',
        };
      return { verdict: 'fail', note: 'an invalid payload must be answered 400' };
    case 'refused':
      if (s === 401 || s === 403) return { verdict: 'pass', note: '' };
      if (is2xx(s))
        return { verdict: 'fail', note: 'accepted a message without a valid signature (forgeable)' };
      if (s === 400) {
        return {
          verdict: 'fail',
          note: '400 means "invalid payload" (permanent): after a secret mismatch real events would be lost; answer 401',
        };
      }
      if (s >= 400 && s < 500)
        return { verdict: 'warn', note: `refused with ${s}; 401 is what senders expect` };
      return { verdict: 'fail', note: 'a bad signature must be refused with 401' };
    case 'too_large':
      if (s === 413) return { verdict: 'pass', note: '' };
      if (is2xx(s))
        return { verdict: 'warn', note: 'accepted: consider a body limit (413); real events are < 2 KiB' };
      if (s >= 400 && s < 500) return { verdict: 'warn', note: `refused with ${s}; 413 is the usual answer` };
      return { verdict: 'fail', note: 'a large body must be refused (413), not crash the receiver' };
  }
}
