/** The page shell: head (viewport, the one stylesheet and script), navigation, partner picker, logout. */
import type { Principal } from '../http/auth.js';
import type { Partner } from '../storage/store.js';
import { type HtmlValue, html, type SafeHtml } from './html.js';

/** The dashboard's URL prefix and its asset URLs (served by `assets.ts`, never from a CDN). */
export const BASE = '/dashboard';
export const CSS_URL = `${BASE}/assets/app.css`;
export const JS_URL = `${BASE}/assets/app.js`;

/** Who is looking and at what: what every page needs to render its frame and scope its data. */
export interface Viewer {
  principal: Principal;
  /** The partner whose data is shown: the partner itself, or the one the operator picked (or none: all). */
  scope: string | undefined;
  /** Every partner, for the operator's picker; empty for a partner. */
  partners: Partner[];
  /** The session's CSRF token, put in every POST form. */
  csrf: string;
}

type Section = 'customers' | 'review' | 'endpoints' | 'none';

/** Query parameters that keep the operator's partner choice across links. */
export function scopeQuery(viewer: Viewer): { partner?: string } {
  return viewer.principal.kind === 'admin' && viewer.scope !== undefined ? { partner: viewer.scope } : {};
}

function navLink(viewer: Viewer, current: Section, section: Section, label: string): SafeHtml {
  const q = new URLSearchParams(scopeQuery(viewer)).toString();
  const url = `${BASE}/${section}${q ? `?${q}` : ''}`;
  return html`<a href="${url}"${current === section ? html` aria-current="page"` : ''}>${label}</a>`;
}

function partnerPicker(viewer: Viewer, path: string): SafeHtml {
  if (viewer.principal.kind !== 'admin') {
    return html`<p class="who">Partner <strong>${viewer.scope}</strong></p>`;
  }
  const options = viewer.partners.map(
    (p) =>
      html`<option value="${p.customerId}"${p.customerId === viewer.scope ? html` selected` : ''}>${p.customerId}${p.name ? ` — ${p.name}` : ''}</option>`,
  );
  return html`<form class="picker" method="get" action="${path}">
      <label for="partner">Partner</label>
      <select id="partner" name="partner"><option value="">All partners</option>${options}</select>
      <button type="submit">Show</button>
    </form>`;
}

/**
 * A whole page.
 *
 * @example
 * layout({ title: 'Customers', viewer, section: 'customers', path: '/dashboard/customers', body: html`…` });
 */
export function layout(o: {
  title: string;
  viewer?: Viewer | undefined;
  section?: Section;
  /** The page's own path, which the partner picker submits to. */
  path?: string;
  body: HtmlValue;
}): string {
  const v = o.viewer;
  const header = v
    ? html`<header class="top">
        <a class="brand" href="${BASE}">TPCS dashboard</a>
        <nav aria-label="Main">
          ${navLink(v, o.section ?? 'none', 'customers', 'Customers')}
          ${v.principal.kind === 'admin' ? navLink(v, o.section ?? 'none', 'review', 'Review queue') : ''}
          ${navLink(v, o.section ?? 'none', 'endpoints', 'Endpoints')}
        </nav>
        ${partnerPicker(v, o.path ?? `${BASE}/customers`)}
        <form class="logout" method="post" action="${BASE}/logout">
          <input type="hidden" name="csrf" value="${v.csrf}">
          <button type="submit">Log out</button>
        </form>
      </header>`
    : html`<header class="top"><span class="brand">TPCS dashboard</span></header>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · TPCS dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${CSS_URL}">
<script type="module" src="${JS_URL}"></script>
</head>
<body>
${header}
<main id="main">
<h1>${o.title}</h1>
${o.body}
</main>
</body>
</html>
`.value;
}

/** A status as a badge whose colour says PENDING / APPROVED / REJECTED or pending / delivered / failed. */
export function badge(status: string): SafeHtml {
  return html`<span class="badge badge-${status.toLowerCase()}">${status}</span>`;
}

/** A time as a `<time>` element: readable UTC text, machine-readable datetime. */
export function time(at: Date | null | undefined): SafeHtml {
  if (!at) return html`<span class="muted">—</span>`;
  const iso = at.toISOString();
  return html`<time datetime="${iso}">${iso.replace('T', ' ').slice(0, 19)} UTC</time>`;
}
