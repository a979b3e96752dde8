/** Third-party customers: status and search filters, a paged table, links to each timeline. */
import type { Page, ThirdPartyCustomer, ThirdPartyStatus } from '../../storage/store.js';
import { href, html } from '../html.js';
import { BASE, badge, layout, scopeQuery, time, type Viewer } from '../layout.js';
import { detail, displayName, pagination } from './shared.js';

/** The list's filters, as read from the query string. */
export interface CustomerFilters {
  status: ThirdPartyStatus | undefined;
  q: string;
  page: number;
}

const STATUSES: ThirdPartyStatus[] = ['PENDING', 'APPROVED', 'REJECTED'];

/** The customers page. */
export function customersPage(
  viewer: Viewer,
  filters: CustomerFilters,
  result: Page<ThirdPartyCustomer>,
): string {
  const path = `${BASE}/customers`;
  const link = (page: number) =>
    href(['dashboard', 'customers'], { ...scopeQuery(viewer), status: filters.status, q: filters.q, page });
  const showPartner = viewer.scope === undefined;
  const rows = result.items.map(
    (t) => html`<tr>
      <td><a href="${href(['dashboard', 'customers', t.customerId, t.clientCustomerRef])}">${t.clientCustomerRef}</a></td>
      ${showPartner ? html`<td>${t.customerId}</td>` : ''}
      <td>${displayName(t)}</td>
      <td class="hide-narrow">${detail(t, 'email')}</td>
      <td>${badge(t.status)}</td>
      <td class="hide-narrow">${time(t.updatedAt)}</td>
    </tr>`,
  );
  return layout({
    title: 'Third-party customers',
    viewer,
    section: 'customers',
    path,
    body: html`<form class="filters" method="get" action="${path}" role="search">
        ${viewer.principal.kind === 'admin' && viewer.scope ? html`<input type="hidden" name="partner" value="${viewer.scope}">` : ''}
        <label for="status">Status</label>
        <select id="status" name="status">
          <option value="">Any</option>
          ${STATUSES.map((s) => html`<option value="${s}"${s === filters.status ? html` selected` : ''}>${s}</option>`)}
        </select>
        <label for="q">Reference contains</label>
        <input id="q" name="q" type="search" value="${filters.q}" maxlength="64">
        <button type="submit">Filter</button>
      </form>
      ${
        result.items.length === 0
          ? html`<p class="empty">No third-party customers match.</p>`
          : html`<div class="table-wrap"><table>
        <caption class="sr-only">Third-party customers</caption>
        <thead><tr><th scope="col">Reference</th>${showPartner ? html`<th scope="col">Partner</th>` : ''}<th scope="col">Name</th>
          <th scope="col" class="hide-narrow">Email</th><th scope="col">Status</th><th scope="col" class="hide-narrow">Updated</th></tr></thead>
        <tbody>${rows}</tbody>
      </table></div>`
      }
      ${pagination(filters.page, result.total, link)}`,
  });
}
