/** The operator's pending-review queue: each PENDING customer with a decision form. */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  type ComplianceDecision,
  complianceDecisionSchema,
  recordComplianceDecision,
} from '../../customers/decisions.js';
import type { Page, Store, ThirdPartyCustomer } from '../../storage/store.js';
import {
  dashboardPath,
  field,
  optionalField,
  optionalText,
  pageNumber,
  problems,
  readFields,
  readParams,
  trimmed,
} from '../forms.js';
import { href, html } from '../html.js';
import { BASE, layout, scopeQuery, time, type Viewer } from '../layout.js';
import { notFound } from '../page-error.js';
import { type PageRoutes, sendPage, viewerOf } from './context.js';
import { displayName, notice, PAGE_SIZE, pagination } from './shared.js';
import { submission } from './submission.js';

type Message = { kind: 'ok' | 'error'; text: string };

/** A decision form that was sent back: what it held, and what is wrong, shown on its own card. */
interface FailedDecision {
  customerId: string;
  ref: string;
  status: string;
  code: string;
  reason: string;
  error: string;
}

/** `?page=`, and `?decided=&status=` after a decision (the decision route redirects here). */
const reviewQuery = z.object({
  page: pageNumber,
  decided: optionalText,
  status: optionalField(z.enum(['APPROVED', 'REJECTED'])),
});

const decisionParams = z.object({ customer_id: z.string(), ref: z.string() });

/** The decision form: the status radio and, when rejecting, one reason (its code and text). */
const decisionForm = z.object({
  status: field.optional(),
  code: trimmed,
  reason: trimmed,
  back: dashboardPath,
});

/** The decision a form asks for and where to go after it, or what is wrong with the form. */
function readDecision(
  body: unknown,
):
  | { ok: true; decision: ComplianceDecision; back: string | undefined }
  | { ok: false; problems: string[]; sent: { status: string; code: string; reason: string } } {
  const form = decisionForm.safeParse(body ?? {});
  if (!form.success) {
    return { ok: false, problems: problems(form.error, 'form'), sent: { status: '', code: '', reason: '' } };
  }
  const { status, code, reason, back } = form.data;
  const sent = { status: status ?? '', code, reason };
  // a REJECTED carries the one reason the form has room for; the domain's schema says what is missing
  const decision = complianceDecisionSchema.safeParse(
    status === 'REJECTED' ? { status, reasons: code || reason ? [{ code, reason }] : [] } : { status },
  );
  if (!decision.success) return { ok: false, problems: problems(decision.error, 'decision'), sent };
  return { ok: true, decision: decision.data, back };
}

/** `GET /dashboard/review` and `POST /dashboard/review/:customer_id/:ref/decision`, for the operator only. */
export const reviewRoutes: PageRoutes = (app, { store }) => {
  app.get('/review', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    if (viewer.principal.kind !== 'admin') throw notFound();
    const { page, decided, status } = readFields(reviewQuery, request.query);
    const message =
      decided && status
        ? { kind: 'ok' as const, text: `Recorded ${status} for ${decided.slice(0, 64)}.` }
        : undefined;
    return renderReview(store, reply, viewer, page, 200, message);
  });

  // The same domain call as POST /api/v1/admin/…/decision: status, event and deliveries in one transaction.
  app.post('/review/:customer_id/:ref/decision', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    if (viewer.principal.kind !== 'admin') throw notFound();
    const { customer_id: customerId, ref } = readParams(decisionParams, request.params);
    const { page } = readFields(reviewQuery, request.query);
    const form = readDecision(request.body);
    if (!form.ok) {
      const error = `No decision recorded for ${ref.slice(0, 64)}. ${form.problems.join('; ')}`;
      return renderReview(store, reply, viewer, page, 400, undefined, {
        customerId,
        ref,
        ...form.sent,
        error,
      });
    }
    const result = await recordComplianceDecision(store, {
      customerId,
      clientCustomerRef: ref,
      decision: form.decision,
    });
    if (result.outcome === 'not_found') throw notFound();
    if (result.outcome === 'too_fast') {
      return renderReview(store, reply, viewer, page, 429, {
        kind: 'error',
        text: `No decision recorded for ${ref.slice(0, 64)}: decisions on it come faster than one a second. Decide again in ${result.retryAfterSeconds} s.`,
      });
    }
    const back = new URL(form.back ?? `${BASE}/review`, 'http://x');
    back.searchParams.set('decided', ref);
    back.searchParams.set('status', form.decision.status);
    return reply.redirect(back.pathname + back.search, 303);
  });
};

/** The queue in the viewer's scope, one page of it, with the outcome of the last decision. */
async function renderReview(
  store: Store,
  reply: FastifyReply,
  viewer: Viewer,
  page: number,
  status: number,
  message?: Message,
  failed?: FailedDecision,
): Promise<FastifyReply> {
  const result = await store.searchThirdParties({
    ...(viewer.scope === undefined ? {} : { customerId: viewer.scope }),
    status: 'PENDING',
    limit: PAGE_SIZE,
    offset: (page - 1) * PAGE_SIZE,
  });
  return sendPage(reply, status, reviewPage(viewer, page, result, message, failed));
}

/** Reason codes offered as suggestions; any upper-case code is accepted. */
export const SUGGESTED_REASON_CODES = [
  'COMPLIANCE_CHECK_FAILED',
  'DOCUMENTS_MISSING',
  'SANCTIONS_MATCH',
  'IDENTITY_NOT_VERIFIED',
];

/**
 * The review queue: each card shows the whole submission and a decision form. `message` is the outcome
 * of the last decision; `failed` a form sent back, shown again on its card as it was, with its error.
 */
export function reviewPage(
  viewer: Viewer,
  page: number,
  result: Page<ThirdPartyCustomer>,
  message?: Message,
  failed?: FailedDecision,
): string {
  const path = `${BASE}/review`;
  const back = href(['dashboard', 'review'], { ...scopeQuery(viewer), page });
  const onPage = result.items.some(
    (t) => t.customerId === failed?.customerId && t.clientCustomerRef === failed.ref,
  );
  const cards = result.items.map((t, i) => {
    const id = `d${i}`;
    const sent =
      failed?.customerId === t.customerId && failed.ref === t.clientCustomerRef ? failed : undefined;
    const checked = (status: string) => (sent?.status === status ? html` checked` : '');
    return html`<li class="card review" data-ref="${t.clientCustomerRef}"${sent ? html` data-failed` : ''}>
      <h2><a href="${href(['dashboard', 'customers', t.customerId, t.clientCustomerRef])}">${displayName(t)}</a>
        <span class="muted">${t.clientCustomerRef} · partner ${t.customerId} · submitted ${time(t.createdAt)}</span></h2>
      ${submission(t)}
      <form method="post" action="${href(['dashboard', 'review', t.customerId, t.clientCustomerRef, 'decision'])}" id="${id}-form">
        <input type="hidden" name="csrf" value="${viewer.csrf}">
        <input type="hidden" name="back" value="${back}">
        ${sent ? html`<p class="notice notice-error" role="alert" id="${id}-error">${sent.error}</p>` : ''}
        <fieldset>
          <legend>Decision for ${t.clientCustomerRef}</legend>
          <label><input type="radio" name="status" value="APPROVED" required${checked('APPROVED')}> Approve</label>
          <label><input type="radio" name="status" value="REJECTED"${checked('REJECTED')}> Reject</label>
        </fieldset>
        <div class="reason-fields">
          <label for="${id}-code">Reason code (when rejecting)</label>
          <input id="${id}-code" name="code" list="reason-codes" maxlength="64" pattern="[A-Z0-9_]+" autocomplete="off" value="${sent?.code ?? ''}"${sent ? html` aria-describedby="${id}-error"` : ''}>
          <label for="${id}-reason">Reason (when rejecting)</label>
          <input id="${id}-reason" name="reason" maxlength="500" value="${sent?.reason ?? ''}"${sent ? html` aria-describedby="${id}-error"` : ''}>
        </div>
        <button type="submit">Record decision</button>
      </form>
    </li>`;
  });
  return layout({
    title: 'Pending review',
    viewer,
    section: 'review',
    path,
    body: html`${message ? notice(message.kind, message.text) : ''}
      ${failed && !onPage ? notice('error', failed.error) : ''}
      <datalist id="reason-codes">${SUGGESTED_REASON_CODES.map((c) => html`<option value="${c}">`)}</datalist>
      ${result.items.length === 0 ? html`<p class="empty">Nothing is waiting for a decision.</p>` : html`<ul class="cards">${cards}</ul>`}
      ${pagination(page, result.total, (p) => href(['dashboard', 'review'], { ...scopeQuery(viewer), page: p }))}`,
  });
}
