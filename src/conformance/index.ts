/**
 * The conformance suite: checks any partner's receiver URL against the contract (valid events 200,
 * invalid payloads 400, bad signatures refused, events of one third party kept in the contract's
 * order), as `tpcs conformance` runs it.
 *
 * @example
 * import { runConformance, formatReport } from './conformance/index.js';
 * const results = await runConformance({
 *   url: 'http://127.0.0.1:3000/webhook',
 *   secret: 'whsec_…',
 *   statusUrl: 'http://127.0.0.1:3000/statuses/{customer_id}/{client_customer_ref}', // optional
 * });
 * console.log(formatReport(results));
 */
export {
  CHECKS,
  type Check,
  type CheckContext,
  type CheckRequest,
  type Expectation,
  type SentEvent,
  tooLargeCheck,
} from './checks.js';
export { type Judgement, judge, type Verdict } from './judge.js';
export { type Answered, type Observation, observeHeld, STATUS_URL_FIELDS, statusUrlFor } from './observe.js';
export { ORDER_CHECKS } from './order-checks.js';
export { type PostOutcome, postRaw } from './post.js';
export { formatReport } from './report.js';
export { type CheckResult, type ConformanceOptions, runConformance, selectChecks } from './run.js';
