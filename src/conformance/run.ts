/** Running the checks against one receiver URL, one after another (receivers see a realistic pace). */
import { randomBytes } from 'node:crypto';
import { CHECKS, type Check, type CheckContext, tooLargeCheck } from './checks.js';
import { type Judgement, judge, type Verdict } from './judge.js';
import { type Answered, type Observation, observeHeld } from './observe.js';
import { ORDER_CHECKS } from './order-checks.js';
import { postRaw } from './post.js';

/** One check's result. */
export interface CheckResult extends Judgement {
  check: Pick<Check, 'id' | 'title' | 'group' | 'expect'>;
  /** Order checks with a status URL: the status the receiver was seen holding. */
  held?: string;
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
  /**
   * Where the order checks read the status the receiver holds: a URL with `{customer_id}` and
   * `{client_customer_ref}` in it, GET after each order check. Without it the `outcome` of the 200
   * bodies is used, if the receiver gives one; otherwise those checks warn.
   */
  statusUrl?: string;
  /** Only the checks with these ids. */
  only?: readonly string[];
  /** Called before each check (progress). */
  onCheck?: (check: Check, index: number, total: number) => void;
}

/** The checks a run would make with these options. */
export function selectChecks(options: Pick<ConformanceOptions, 'largeBodyBytes' | 'only'>): Check[] {
  const all = [
    ...CHECKS,
    ...ORDER_CHECKS,
    ...(options.largeBodyBytes ? [tooLargeCheck(options.largeBodyBytes)] : []),
  ];
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
    const result = await runCheck(check, ctx, options);
    if (result) results.push(result);
  }
  return results;
}

const SEVERITY: Record<Verdict, number> = { pass: 0, warn: 1, fail: 2 };

/**
 * Sends a check's requests in order and judges them: each stage-setting request must be accepted
 * (e.g. the first copy of a duplicate), the last must meet the check's expectation, and an order
 * check's receiver must then hold the right status.
 */
async function runCheck(
  check: Check,
  ctx: CheckContext,
  options: ConformanceOptions,
): Promise<CheckResult | undefined> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const requests = check.requests(ctx);
  const answered: Answered[] = [];
  for (const [n, request] of requests.entries()) {
    const outcome = await postRaw(options.url, request.headers, request.body, timeoutMs);
    if (outcome.ok && request.sent) answered.push({ sent: request.sent, body: outcome.body });
    const last = n === requests.length - 1;
    let judgement: Observation = judge(last ? check.expect : 'accepted', outcome);
    if (!last && judgement.verdict === 'pass') continue;
    if (!last) {
      judgement = { ...judgement, note: `first request: ${judgement.note}` };
    } else if (judgement.verdict === 'fail' && check.rule && !check.holds) {
      // The answer itself breaks the rule (e.g. a future event taken): say which rule.
      judgement = { ...judgement, note: `${judgement.note} (${check.rule})` };
    } else if (judgement.verdict !== 'fail' && check.holds) {
      const seen = await observeHeld(check, answered, { statusUrl: options.statusUrl, timeoutMs });
      if (SEVERITY[seen.verdict] >= SEVERITY[judgement.verdict]) judgement = seen;
      else if (seen.held !== undefined) judgement = { ...judgement, held: seen.held };
    }
    return {
      check: { id: check.id, title: check.title, group: check.group, expect: check.expect },
      ...judgement,
      status: outcome.ok ? outcome.status : null,
      durationMs: outcome.durationMs,
      responseExcerpt: outcome.ok ? outcome.body.slice(0, 200) : '',
    };
  }
  return undefined;
}
