/**
 * The dispatcher: delivers every stored delivery to its endpoint, reliably, in order per customer.
 * See docs/delivery.md for the guarantees as partners see them.
 */
export type { AttemptLabel, CompletionPlan } from './attempt.js';
export { planCompletion } from './attempt.js';
export type { Dispatcher, DispatcherOptions } from './dispatcher.js';
export { createDispatcher } from './dispatcher.js';
export { createDispatcherMetrics, type DispatcherMetrics } from './metrics.js';
export type { AttemptErrorKind, AttemptResult, Outcome } from './outcome.js';
export { classifyOutcome, parseRetryAfter } from './outcome.js';
export type { RetryPolicy, RetryPolicyOptions } from './retry-policy.js';
export {
  createRetryPolicy,
  DEFAULT_RETRY_SCHEDULE_MS,
  parseDuration,
  parseRetrySchedule,
} from './retry-policy.js';
export type { Sender, SenderOptions, SendRequest } from './sender.js';
export { createSender, USER_AGENT } from './sender.js';
