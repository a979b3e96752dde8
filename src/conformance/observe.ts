/**
 * Which status a receiver holds after an order check. Its 200s alone do not say (a stale event is
 * answered 200 too), so the held status is read, in this order of preference, from:
 *
 * 1. a status URL (`--status-url`), one GET after the check's last answer, with `{customer_id}` and
 *    `{client_customer_ref}` replaced; the answer is JSON with a `status` field, as
 *    `GET /statuses/{customer_id}/{client_customer_ref}` of `tpcs receive` gives it;
 * 2. the `outcome` in kit-style 200 bodies (`{"received":true,"event_id":…,"outcome":…}`): each
 *    event must get the outcome its check says (`recorded` for the winner, `stale` for a later,
 *    older arrival);
 * 3. neither: a warning, since nothing could be observed (it is neither a pass nor a fail).
 */
import { request } from 'undici';
import { CUSTOMER_STATUSES } from '../contract/index.js';
import type { Check, SentEvent } from './checks.js';
import type { Judgement } from './judge.js';

/** An order check's event and the body of the 200 it got. */
export interface Answered {
  sent: SentEvent;
  body: string;
}

/** A judgement of what the receiver holds, and the status read from the status URL, if one was. */
export interface Observation extends Judgement {
  held?: string;
}

export const STATUS_URL_FIELDS = ['{customer_id}', '{client_customer_ref}'] as const;

/**
 * The status URL of one third party: the template with both fields replaced, URL-encoded.
 *
 * @example
 * statusUrlFor('http://127.0.0.1:4000/statuses/{customer_id}/{client_customer_ref}', { customerId: '02', clientCustomerRef: 'A B' });
 * // 'http://127.0.0.1:4000/statuses/02/A%20B'
 */
export function statusUrlFor(
  template: string,
  who: Pick<SentEvent, 'customerId' | 'clientCustomerRef'>,
): string {
  return template
    .replaceAll('{customer_id}', encodeURIComponent(who.customerId))
    .replaceAll('{client_customer_ref}', encodeURIComponent(who.clientCustomerRef));
}

/**
 * Judges whether the receiver holds `check.holds` after the check's events were all answered 200.
 *
 * @example
 * const seen = await observeHeld(check, answered, { statusUrl, timeoutMs: 10_000 });
 * if (seen.verdict === 'fail') console.log(seen.note); // 'kept REJECTED: on an equal event_timestamp …'
 */
export async function observeHeld(
  check: Check,
  answered: readonly Answered[],
  options: { statusUrl?: string | undefined; timeoutMs: number },
): Promise<Observation> {
  const expected = check.holds;
  const who = answered[0]?.sent;
  if (expected === undefined || who === undefined) return { verdict: 'pass', note: '' };
  const rule = check.rule ?? `${expected} must be held`;
  if (options.statusUrl !== undefined) {
    const url = statusUrlFor(options.statusUrl, who);
    const read = await readStatus(url, options.timeoutMs);
    if (!read.ok) return { verdict: 'fail', note: read.note };
    if (read.status === expected) return { verdict: 'pass', note: '', held: read.status };
    return { verdict: 'fail', note: `kept ${read.status}: ${rule}`, held: read.status };
  }
  const outcomes = answered.map((a) => outcomeOf(a.body));
  if (outcomes.some((o) => o === undefined)) {
    return { verdict: 'warn', note: 'cannot observe the held status: pass --status-url' };
  }
  for (const [i, a] of answered.entries()) {
    const got = outcomes[i];
    if (got === a.sent.outcome) continue;
    const kept = CUSTOMER_STATUSES.find((s) => s !== expected) ?? 'another status';
    return {
      verdict: 'fail',
      note: `kept ${kept}: ${rule} (outcome "${got}" for the ${a.sent.status} event, expected "${a.sent.outcome}")`,
    };
  }
  return { verdict: 'pass', note: '' };
}

/** `outcome` of a JSON object body, when it is a string. */
function outcomeOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const outcome = (parsed as Record<string, unknown>).outcome;
    return typeof outcome === 'string' ? outcome : undefined;
  } catch {
    return undefined;
  }
}

type StatusRead = { ok: true; status: string } | { ok: false; note: string };

/** GETs a status URL and reads `status` from its JSON answer; every problem is a note. */
async function readStatus(url: string, timeoutMs: number): Promise<StatusRead> {
  let code: number;
  let text: string;
  try {
    const response = await request(url, {
      method: 'GET',
      headers: { 'user-agent': 'tpcs-cli/0.1', accept: 'application/json' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    code = response.statusCode;
    text = (await response.body.text()).slice(0, 64 * 1024);
  } catch (error) {
    const e = error as Error & { code?: string };
    return { ok: false, note: `status URL ${url}: no answer (${e.code ?? e.message})` };
  }
  if (code === 404) {
    return { ok: false, note: `holds no status: ${url} answered 404 after the events were answered 200` };
  }
  if (code !== 200) return { ok: false, note: `status URL ${url} answered ${code}, not 200` };
  let status: unknown;
  try {
    status = (JSON.parse(text) as Record<string, unknown> | null)?.status;
  } catch {
    status = undefined;
  }
  if (typeof status !== 'string') {
    return {
      ok: false,
      note: `status URL ${url}: no "status" in its answer ${JSON.stringify(text.slice(0, 80))}`,
    };
  }
  return { ok: true, status };
}
