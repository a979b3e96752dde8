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
