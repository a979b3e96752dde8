/** Pieces several pages share: a third party's display name, pagination, notices. */
import type { ThirdPartyCustomer } from '../../storage/store.js';
import { html, type SafeHtml } from '../html.js';

/** Page size of the dashboard's lists. */
export const PAGE_SIZE = 20;

/** The person's name as submitted (first and last name), or the ref when there is none. */
export function displayName(t: ThirdPartyCustomer): string {
  const d = t.clientCustomerDetails;
  const name = [d.first_name, d.last_name].filter((p): p is string => typeof p === 'string').join(' ');
  return name || t.clientCustomerRef;
}

/** A string field of the submitted details, or '' when absent or not text. */
export function detail(t: ThirdPartyCustomer, key: string): string {
  const v = t.clientCustomerDetails[key];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

/** Previous / next links around "page X of Y"; `link(page)` builds each URL. */
export function pagination(page: number, total: number, link: (page: number) => string): SafeHtml {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  return html`<nav class="pager" aria-label="Pages">
    ${page > 1 ? html`<a href="${link(page - 1)}" rel="prev">← Previous</a>` : ''}
    <span>Page ${page} of ${pages} · ${total} in all</span>
    ${page < pages ? html`<a href="${link(page + 1)}" rel="next">Next →</a>` : ''}
  </nav>`;
}

/** A success or error message above the page's content, announced to screen readers. */
export function notice(kind: 'ok' | 'error', text: string | undefined): SafeHtml {
  if (!text) return html``;
  return html`<p class="notice notice-${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`;
}

/**
 * The error of one form field, placed under it; its id is what the field's `aria-describedby` names.
 *
 * @example
 * html`<input id="url" aria-describedby="url-error">${fieldError('url-error', errors.url)}`;
 */
export function fieldError(id: string, text: string | undefined): SafeHtml {
  if (!text) return html``;
  return html`<p class="field-error" id="${id}" role="alert">${text}</p>`;
}

/** The attributes of a field with an error: marked invalid and described by the error. */
export function invalidIf(errorId: string, text: string | undefined): SafeHtml {
  return text ? html` aria-invalid="true" aria-describedby="${errorId}"` : html``;
}

/**
 * A confirmation without script: the first button only opens the box that says what will happen, and
 * the POST form inside it does it.
 *
 * @example
 * confirmAction({ label: 'Disable…', explain: 'Nothing is sent while…', confirm: 'Yes, disable', action, csrf });
 */
export function confirmAction(o: {
  label: string;
  explain: string;
  confirm: string;
  action: string;
  csrf: string;
  fields?: Record<string, string>;
  className?: string;
}): SafeHtml {
  const hidden = Object.entries(o.fields ?? {}).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  );
  return html`<details class="confirm${o.className ? ` ${o.className}` : ''}">
    <summary>${o.label}</summary>
    <div class="confirm-box">
      <p>${o.explain}</p>
      <form method="post" action="${o.action}">
        <input type="hidden" name="csrf" value="${o.csrf}">${hidden}
        <button type="submit">${o.confirm}</button>
      </form>
    </div>
  </details>`;
}
