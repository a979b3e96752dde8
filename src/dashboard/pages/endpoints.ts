/** Endpoints with their health, one endpoint with its deliveries, and the live chart (and its JSON). */
import { z } from 'zod';
import type {
  CursorPage,
  Delivery,
  Endpoint,
  EndpointHealth,
  MinuteOutcomes,
  Store,
} from '../../storage/store.js';
import { isEndpointId } from '../../webhooks/endpoints.js';
import { optionalText, readFields, readParams } from '../forms.js';
import { href, html, type SafeHtml } from '../html.js';
import { BASE, layout, scopeQuery, time, type Viewer } from '../layout.js';
import { notFound, PageError } from '../page-error.js';
import { ensureVisible, type PageRoutes, sendPage, viewerOf } from './context.js';
import { deliveryCard } from './deliveries.js';
import { notice, PAGE_SIZE } from './shared.js';

/** How far back the health figures and the chart look. */
export const HEALTH_WINDOW_MS = 24 * 60 * 60 * 1000;
export const CHART_MINUTES = 30;

const endpointParams = z.object({ customer_id: z.string(), endpoint_id: z.string() });
/** `?cursor=` for older deliveries, and `?retried=` after a retry (the retry route redirects here). */
const endpointQuery = z.object({ cursor: optionalText, retried: optionalText });

/** Attempts per minute over the chart's window, in the viewer's scope. */
function chartMinutes(store: Store, viewer: Viewer, now: Date): Promise<MinuteOutcomes[]> {
  return store.attemptsPerMinute({
    ...(viewer.scope === undefined ? {} : { customerId: viewer.scope }),
    since: new Date(now.getTime() - CHART_MINUTES * 60_000),
  });
}

/**
 * `GET /dashboard/endpoints`, `GET /dashboard/endpoints/:customer_id/:endpoint_id`, and the chart's
 * JSON, `GET /dashboard/api/deliveries-per-minute`, which the client script polls.
 */
export const endpointRoutes: PageRoutes = (app, { store }) => {
  app.get('/endpoints', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const since = new Date(Date.now() - HEALTH_WINDOW_MS);
    const partnerIds = viewer.scope !== undefined ? [viewer.scope] : viewer.partners.map((p) => p.customerId);
    const rows = [];
    for (const customerId of partnerIds) {
      const [endpoints, health] = await Promise.all([
        store.listEndpoints(customerId),
        store.endpointHealth(customerId, since),
      ]);
      const byId = new Map(health.map((h) => [h.endpointId, h]));
      for (const endpoint of endpoints) rows.push({ endpoint, health: byId.get(endpoint.id) });
    }
    const now = new Date();
    const minutes = await chartMinutes(store, viewer, now);
    return sendPage(reply, 200, endpointsPage(viewer, rows, minutes, now));
  });

  app.get('/endpoints/:customer_id/:endpoint_id', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const { customer_id: customerId, endpoint_id: endpointId } = readParams(endpointParams, request.params);
    ensureVisible(viewer, customerId);
    const endpoint = isEndpointId(endpointId) ? await store.getEndpoint(customerId, endpointId) : undefined;
    if (!endpoint) throw notFound();
    const { cursor, retried } = readFields(endpointQuery, request.query);
    const [health, deliveries] = await Promise.all([
      store.endpointHealth(customerId, new Date(Date.now() - HEALTH_WINDOW_MS)),
      store
        .listDeliveries(customerId, endpointId, { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) })
        .catch(() => {
          throw new PageError(400, 'That page link is not valid any more.');
        }),
    ]);
    const message = retried
      ? { kind: 'ok' as const, text: `Delivery ${retried.slice(0, 100)} queued to be sent again now.` }
      : undefined;
    const h = health.find((x) => x.endpointId === endpointId);
    return sendPage(reply, 200, endpointPage(viewer, endpoint, h, deliveries, message));
  });

  app.get('/api/deliveries-per-minute', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const now = new Date();
    const minutes = await chartMinutes(store, viewer, now);
    return reply.type('application/json; charset=utf-8').send({
      now: now.toISOString(),
      minutes: minutes.map((m) => ({ ...m, minute: m.minute.toISOString() })),
    });
  });
};

const CHART_W = 600;
const CHART_H = 160;
const OUTCOMES = ['delivered', 'rejected', 'failed'] as const;

/**
 * The chart as SVG: one stacked bar per minute (delivered, rejected, failed). The client script redraws
 * the same shapes from the JSON route every few seconds; this first render works without it.
 */
export function chartSvg(minutes: MinuteOutcomes[], now: Date): SafeHtml {
  const end = Math.floor(now.getTime() / 60_000);
  const byMinute = new Map(minutes.map((m) => [Math.floor(m.minute.getTime() / 60_000), m]));
  const slots = Array.from({ length: CHART_MINUTES }, (_, i) => byMinute.get(end - CHART_MINUTES + 1 + i));
  const max = Math.max(1, ...slots.map((m) => (m ? m.delivered + m.rejected + m.failed : 0)));
  const barW = CHART_W / CHART_MINUTES;
  const bars: SafeHtml[] = [];
  slots.forEach((m, i) => {
    let y = CHART_H;
    for (const k of OUTCOMES) {
      const n = m?.[k] ?? 0;
      if (n === 0) continue;
      const h = (n / max) * (CHART_H - 10);
      y -= h;
      bars.push(
        html`<rect class="bar-${k}" x="${(i * barW + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}"><title>${n} ${k}</title></rect>`,
      );
    }
  });
  return html`<svg class="chart-svg" preserveAspectRatio="none" viewBox="0 0 ${CHART_W} ${CHART_H}" role="img" aria-label="Delivery attempts per minute, last ${CHART_MINUTES} minutes">
    <line class="axis" x1="0" y1="${CHART_H - 0.5}" x2="${CHART_W}" y2="${CHART_H - 0.5}"></line>${bars}</svg>`;
}

function chartSummary(minutes: MinuteOutcomes[]): string {
  const sum = (k: (typeof OUTCOMES)[number]) => minutes.reduce((n, m) => n + m[k], 0);
  return `Last ${CHART_MINUTES} minutes: ${sum('delivered')} delivered, ${sum('rejected')} rejected, ${sum('failed')} failed attempts.`;
}

/** The live chart: SVG, legend, a text summary, and the JSON URL the client script polls. */
export function chart(viewer: Viewer, minutes: MinuteOutcomes[], now: Date): SafeHtml {
  const src = href(['dashboard', 'api', 'deliveries-per-minute'], scopeQuery(viewer));
  return html`<section class="card chart" data-chart-src="${src}" aria-labelledby="chart-title">
    <h2 id="chart-title">Delivery attempts per minute</h2>
    <div class="chart-plot">${chartSvg(minutes, now)}</div>
    <p class="legend"><span class="key key-delivered"></span>delivered (2xx)
      <span class="key key-rejected"></span>rejected (400, 410) <span class="key key-failed"></span>failed (other)</p>
    <p class="muted" data-chart-summary aria-live="polite">${chartSummary(minutes)}</p>
  </section>`;
}

function successRate(h: EndpointHealth | undefined): string {
  if (!h || h.attempts === 0) return 'no attempts';
  return `${Math.round((h.succeeded / h.attempts) * 1000) / 10}% of ${h.attempts}`;
}

function lastError(h: EndpointHealth | undefined): SafeHtml {
  const e = h?.lastError;
  if (!e) return html`<span class="muted">none</span>`;
  const code = e.statusCode === null ? '' : `HTTP ${e.statusCode}`;
  // the dispatcher's error often just repeats the status ("HTTP 500"): say it once
  const detail = e.error && e.error !== code ? ` ${e.error}` : '';
  return html`${time(e.at)}: ${code}${detail}`;
}

function state(e: Endpoint): SafeHtml {
  return e.enabled
    ? html`<span class="badge badge-delivered">enabled</span>`
    : html`<span class="badge badge-failed">disabled</span> ${e.disabledReason ?? ''}`;
}

/** The endpoints page: the chart, then every endpoint in scope with its health. */
export function endpointsPage(
  viewer: Viewer,
  endpoints: { endpoint: Endpoint; health: EndpointHealth | undefined }[],
  minutes: MinuteOutcomes[],
  now: Date,
): string {
  const rows = endpoints.map(
    ({ endpoint: e, health: h }) => html`<tr>
      <td><a href="${href(['dashboard', 'endpoints', e.customerId, e.id])}">${e.url}</a>${e.description ? html`<div class="muted">${e.description}</div>` : ''}</td>
      ${viewer.scope === undefined ? html`<td>${e.customerId}</td>` : ''}
      <td>${state(e)}</td>
      <td>${successRate(h)}</td>
      <td class="hide-narrow">${time(h?.lastAttemptAt)}</td>
      <td>${lastError(h)}</td>
    </tr>`,
  );
  return layout({
    title: 'Webhook endpoints',
    viewer,
    section: 'endpoints',
    path: `${BASE}/endpoints`,
    body: html`${chart(viewer, minutes, now)}
      ${
        endpoints.length === 0
          ? html`<p class="empty">No endpoints subscribed.</p>`
          : html`<div class="table-wrap"><table>
        <caption class="sr-only">Endpoints and their health over the last 24 hours</caption>
        <thead><tr><th scope="col">URL</th>${viewer.scope === undefined ? html`<th scope="col">Partner</th>` : ''}<th scope="col">State</th>
          <th scope="col">Success (24 h)</th><th scope="col" class="hide-narrow">Last attempt</th><th scope="col">Last error</th></tr></thead>
        <tbody>${rows}</tbody></table></div>`
      }`,
  });
}

/** One endpoint: its settings and health, then its deliveries (newest first) with every attempt. */
export function endpointPage(
  viewer: Viewer,
  e: Endpoint,
  h: EndpointHealth | undefined,
  deliveries: CursorPage<Delivery>,
  message?: { kind: 'ok' | 'error'; text: string },
): string {
  const self = href(['dashboard', 'endpoints', e.customerId, e.id]);
  return layout({
    title: `Endpoint ${e.url}`,
    viewer,
    section: 'endpoints',
    path: self,
    body: html`${message ? notice(message.kind, message.text) : ''}
      <dl class="card facts">
        <dt>Partner</dt><dd>${e.customerId}</dd>
        <dt>State</dt><dd>${state(e)}</dd>
        <dt>Events</dt><dd>${e.eventTypes.join(', ')}</dd>
        <dt>Success (24 h)</dt><dd>${successRate(h)}</dd>
        <dt>Last error</dt><dd>${lastError(h)}</dd>
      </dl>
      <h2>Deliveries</h2>
      ${
        deliveries.items.length === 0
          ? html`<p class="empty">No deliveries yet.</p>`
          : deliveries.items.map((d) =>
              deliveryCard(viewer, e.customerId, d, { retry: true, endpointLink: false, back: self }),
            )
      }
      ${deliveries.nextCursor ? html`<nav class="pager" aria-label="Pages"><a href="${href(['dashboard', 'endpoints', e.customerId, e.id], { cursor: deliveries.nextCursor })}" rel="next">Older deliveries →</a></nav>` : ''}`,
  });
}
