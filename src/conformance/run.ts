/** Running the checks against one receiver URL, one after another (receivers see a realistic pace). */
import { randomBytes } from 'node:crypto';
import { CHECKS, type Check, type CheckContext, tooLargeCheck } from './checks.js';
import { type Judgement, judge } from './judge.js';
import { postRaw } from './post.js';

/** One check's result. */
export interface CheckResult extends Judgement {
  check: Pick<Check, 'id' | 'title' | 'group' | 'expect'>;
  /** The judged answer's status, or null when there was none. */
  status: number | null;
  durationMs: number;
  /** The start of the judged answer's body, for the report. */
  responseExcerpt: string;
}

export interface ConformanceOptions {
  url: string;
  secret: string;
  customerId?: string;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** Adds the body-size check with a body of this many bytes; 0 or absent: skipped. */
  largeBodyBytes?: number;
  /** Only the checks with these ids. */
  only?: readonly string[];
  /** Called before each check (progress). */
  onCheck?: (check: Check, index: number, total: number) => void;
}

/** The checks a run would make with these options. */
export function selectChecks(options: Pick<ConformanceOptions, 'largeBodyBytes' | 'only'>): Check[] {
  const all = [...CHECKS, ...(options.largeBodyBytes ? [tooLargeCheck(options.largeBodyBytes)] : [])];
  return options.only ? all.filter((c) => options.only?.includes(c.id)) : all;
}

/**
 * Runs the conformance checks and returns every result; a failure never stops the run.
 *
 * @example
 * const results = await runConformance({ url: 'http://127.0.0.1:3000/webhook', secret });
 * const passed = results.every((r) => r.verdict !== 'fail');
 */
export async function runConformance(options: ConformanceOptions): Promise<CheckResult[]> {
  const ctx: CheckContext = {
    secret: options.secret,
    runId: randomBytes(4).toString('hex'),
    customerId: options.customerId ?? '0201001008132685',
    now: () => Math.floor(Date.now() / 1000),
  };
  const checks = selectChecks(options);
  const results: CheckResult[] = [];
  for (const [index, check] of checks.entries()) {
    options.onCheck?.(check, index, checks.length);
    let judged: CheckResult | undefined;
    const requests = check.requests(ctx);
    for (const [n, request] of requests.entries()) {
      const outcome = await postRaw(options.url, request.headers, request.body, options.timeoutMs ?? 10_000);
      const last = n === requests.length - 1;
      // A stage-setting request must itself be accepted (the first copy of a duplicate).
      const judgement = last ? judge(check.expect, outcome) : judge('accepted', outcome);
      if (!last && judgement.verdict === 'pass') continue;
      judged = {
        check: { id: check.id, title: check.title, group: check.group, expect: check.expect },
        ...judgement,
        ...(last ? {} : { note: `first request: ${judgement.note}` }),
        status: outcome.ok ? outcome.status : null,
        durationMs: outcome.durationMs,
        responseExcerpt: outcome.ok ? outcome.body.slice(0, 200) : '',
      };
      break;
    }
    if (judged) results.push(judged);
  }
  return results;
}
