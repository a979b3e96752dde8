/** The operator's pending-review queue: each PENDING customer with a decision form. */
import type { Page, ThirdPartyCustomer } from '../../storage/store.js';
import { href, html } from '../html.js';
import { BASE, layout, scopeQuery, time, type Viewer } from '../layout.js';
import { detail, displayName, notice, pagination } from './shared.js';

/** Reason codes offered as suggestions; any upper-case code is accepted. */
export const SUGGESTED_REASON_CODES = [
  'COMPLIANCE_CHECK_FAILED',
  'DOCUMENTS_MISSING',
  'SANCTIONS_MATCH',
  'IDENTITY_NOT_VERIFIED',
];

/** The review queue; `message` is the outcome of the last decision. */
export function reviewPage(
  viewer: Viewer,
  page: number,
  result: Page<ThirdPartyCustomer>,
  message?: { kind: 'ok' | 'error'; text: string },
): string {
  const path = `${BASE}/review`;
  const back = href(['dashboard', 'review'], { ...scopeQuery(viewer), page });
  const cards = result.items.map((t, i) => {
    const id = `d${i}`;
    return html`<li class="card review" data-ref="${t.clientCustomerRef}">
      <h2><a href="${href(['dashboard', 'customers', t.customerId, t.clientCustomerRef])}">${displayName(t)}</a>
        <span class="muted">${t.clientCustomerRef} · partner ${t.customerId}</span></h2>
      <p class="muted">${detail(t, 'email')} · ${detail(t, 'country')} · submitted ${time(t.createdAt)}</p>
      <form method="post" action="${href(['dashboard', 'review', t.customerId, t.clientCustomerRef, 'decision'])}">
        <input type="hidden" name="csrf" value="${viewer.csrf}">
        <input type="hidden" name="back" value="${back}">
        <fieldset>
          <legend>Decision for ${t.clientCustomerRef}</legend>
          <label><input type="radio" name="status" value="APPROVED" required> Approve</label>
          <label><input type="radio" name="status" value="REJECTED"> Reject</label>
        </fieldset>
        <div class="reason-fields">
          <label for="${id}-code">Reason code (when rejecting)</label>
          <input id="${id}-code" name="code" list="reason-codes" maxlength="64" pattern="[A-Z0-9_]+" autocomplete="off">
          <label for="${id}-reason">Reason (when rejecting)</label>
          <input id="${id}-reason" name="reason" maxlength="500">
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
      <datalist id="reason-codes">${SUGGESTED_REASON_CODES.map((c) => html`<option value="${c}">`)}</datalist>
      ${result.items.length === 0 ? html`<p class="empty">Nothing is waiting for a decision.</p>` : html`<ul class="cards">${cards}</ul>`}
      ${pagination(page, result.total, (p) => href(['dashboard', 'review'], { ...scopeQuery(viewer), page: p }))}`,
  });
}
