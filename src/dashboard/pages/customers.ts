/**
 * Third-party customers, the dashboard's home: status and search filters, a paged table, links to
 * each timeline.
 */
import { z } from 'zod';
import { thirdPartyStatusSchema } from '../../customers/schema.js';
import type { Page, ThirdPartyCustomer, ThirdPartyStatus } from '../../storage/store.js';
import { field, optionalField, pageNumber, readFields } from '../forms.js';
import { href, html } from '../html.js';
import { BASE, badge, layout, scopeQuery, time, type Viewer } from '../layout.js';
import { type PageRoutes, sendPage, viewerOf } from './context.js';
import { detail, displayName, PAGE_SIZE, pagination } from './shared.js';

/** The list's filters, as read from the query string. */
export interface CustomerFilters {
  status: ThirdPartyStatus | undefined;
  q: string;
  page: number;
}

/**
 * `?status=&q=&page=`: an unknown status or page is ignored; `q`, a part of the name or the reference,
 * is trimmed to 64 characters.
 */
const filtersQuery = z.object({
  status: optionalField(thirdPartyStatusSchema),
  q: field.transform((q) => q.trim().slice(0, 64)).catch(''),
  page: pageNumber,
});

/** `GET /dashboard/customers`, and `GET /dashboard`, which leads to it. */
export const customerRoutes: PageRoutes = (app, { store }) => {
  app.get('/', async (_request, reply) => reply.redirect(`${BASE}/customers`, 303));

  app.get('/customers', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const { status, q, page } = readFields(filtersQuery, request.query);
    const result = await store.searchThirdParties({
      ...(viewer.scope === undefined ? {} : { customerId: viewer.scope }),
      ...(status === undefined ? {} : { status }),
      nameOrRefContains: q,
      limit: PAGE_SIZE,
      offset: (page - 1) * PAGE_SIZE,
    });
    return sendPage(reply, 200, customersPage(viewer, { status, q, page }, result));
  });
};

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
      <td data-label="Reference"><a href="${href(['dashboard', 'customers', t.customerId, t.clientCustomerRef])}">${t.clientCustomerRef}</a></td>
      ${showPartner ? html`<td data-label="Partner">${t.customerId}</td>` : ''}
      <td data-label="Name">${displayName(t)}</td>
      <td class="hide-narrow" data-label="Email">${detail(t, 'email')}</td>
      <td data-label="Status">${badge(t.status)}</td>
      <td class="hide-narrow" data-label="Updated">${time(t.updatedAt)}</td>
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
          ${thirdPartyStatusSchema.options.map((s) => html`<option value="${s}"${s === filters.status ? html` selected` : ''}>${s}</option>`)}
        </select>
        <label for="q">Name or reference</label>
        <input id="q" name="q" type="search" value="${filters.q}" maxlength="64">
        <button type="submit">Filter</button>
      </form>
      ${
        result.items.length === 0
          ? html`<p class="empty">No third-party customers match.</p>`
          : html`<div class="table-wrap"><table class="stack-table">
        <caption class="sr-only">Third-party customers</caption>
        <thead><tr><th scope="col">Reference</th>${showPartner ? html`<th scope="col">Partner</th>` : ''}<th scope="col">Name</th>
          <th scope="col" class="hide-narrow">Email</th><th scope="col">Status</th><th scope="col" class="hide-narrow">Updated</th></tr></thead>
        <tbody>${rows}</tbody>
      </table></div>`
      }
      ${pagination(filters.page, result.total, link)}`,
  });
}
