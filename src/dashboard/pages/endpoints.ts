/**
 * Endpoints with their health, one endpoint with its settings, actions and deliveries (searchable),
 * and the live chart (and its JSON). The forms' routes are in endpoint-actions.ts.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type {
  AlertRecord,
  CursorPage,
  DeliveryOfEvent,
  Endpoint,
  EndpointHealth,
  MinuteOutcomes,
  NotificationSettings,
  Store,
} from '../../storage/store.js';
import { isEndpointId } from '../../webhooks/endpoints.js';
import { optionalField, optionalText, readFields, readParams } from '../forms.js';
import { href, html, type SafeHtml } from '../html.js';
import { BASE, layout, scopeQuery, time, type Viewer } from '../layout.js';
import { notFound, PageError } from '../page-error.js';
import { ensureVisible, type PageRoutes, sendPage, viewerOf } from './context.js';
import { deliveryCard } from './deliveries.js';
import {
  type DeliverySearchQuery,
  deliverySearchForm,
  deliverySearchQuery,
  type EndpointFormValues,
  endpointActions,
  endpointForm,
  type FieldErrors,
  type Message,
  type RecoverState,
  type ShownSecret,
  secretBox,
  valuesOf,
} from './endpoint-forms.js';
import { notice, PAGE_SIZE } from './shared.js';

/** How far back the health figures and the chart look. */
export const HEALTH_WINDOW_MS = 24 * 60 * 60 * 1000;
export const CHART_MINUTES = 30;

const endpointParams = z.object({ customer_id: z.string(), endpoint_id: z.string() });
/**
 * What the actions redirect back with: `?retried=` after a retry, `?done=` after a change (with
 * `backfilled=` or `backlog=skipped` after an enable), `?requeued=` after a recover.
 */
const outcomeQuery = z.object({
  retried: optionalText,
  done: optionalField(z.enum(['updated', 'enabled', 'disabled'])),
  backfilled: optionalField(z.string().regex(/^\d{1,9}$/)),
  backlog: optionalField(z.literal('skipped')),
  requeued: optionalField(z.string().regex(/^\d{1,9}$/)),
});

const DONE: Record<'updated' | 'enabled' | 'disabled', string> = {
  updated: 'Endpoint saved.',
  enabled: 'Endpoint enabled: deliveries go out again.',
  disabled: 'Endpoint disabled: nothing is sent to it until it is enabled again.',
};

/** What an enable did with the events emitted while the endpoint was disabled. */
function backlogOutcome(backfilled: string | undefined, backlog: 'skipped' | undefined): string {
  if (backlog === 'skipped') return ' The events emitted while it was disabled were skipped.';
  if (backfilled === undefined) return '';
  const n = Number(backfilled);
  return ` ${n} deliver${n === 1 ? 'y' : 'ies'} of the events emitted while it was disabled queued, in order.`;
}

/** The endpoint of a path, in the viewer's scope; 404 for anything else. */
export async function visibleEndpoint(store: Store, viewer: Viewer, params: unknown): Promise<Endpoint> {
  const { customer_id: customerId, endpoint_id: endpointId } = readParams(endpointParams, params);
  ensureVisible(viewer, customerId);
  const endpoint = isEndpointId(endpointId) ? await store.getEndpoint(customerId, endpointId) : undefined;
  if (!endpoint) throw notFound();
  return endpoint;
}

/** What an endpoint page shows besides the endpoint: the outcome of an action, a form with errors. */
export interface EndpointPageState {
  message?: Message | undefined;
  secret?: ShownSecret | undefined;
  edit?: { values: EndpointFormValues; errors: FieldErrors } | undefined;
  recover?: RecoverState | undefined;
  search?: DeliverySearchQuery | undefined;
}

/** Renders one endpoint's page (its health, its deliveries as searched) with `state`. */
export async function renderEndpoint(
  store: Store,
  reply: FastifyReply,
  viewer: Viewer,
  endpoint: Endpoint,
  status: number,
  state: EndpointPageState = {},
): Promise<FastifyReply> {
  const q = state.search ?? {};
  const [health, deliveries] = await Promise.all([
    store.endpointHealth(endpoint.customerId, new Date(Date.now() - HEALTH_WINDOW_MS)),
    store
      .searchDeliveries({
        customerId: endpoint.customerId,
        endpointId: endpoint.id,
        limit: PAGE_SIZE,
        ...(q.ref ? { refContains: q.ref } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.from ? { createdFrom: q.from } : {}),
        ...(q.to ? { createdBefore: q.to } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      })
      .catch(() => {
        throw new PageError(400, 'That page link is not valid any more.');
      }),
  ]);
  const h = health.find((x) => x.endpointId === endpoint.id);
  return sendPage(reply, status, endpointPage(viewer, endpoint, h, deliveries, { ...state, search: q }));
}

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
    const alerts: PartnerAlerts[] = [];
    for (const customerId of partnerIds) {
      const [endpoints, health, settings, recent] = await Promise.all([
        store.listEndpoints(customerId),
        store.endpointHealth(customerId, since),
        store.getNotificationSettings(customerId),
        store.listAlerts(customerId, RECENT_ALERTS),
      ]);
      const byId = new Map(health.map((h) => [h.endpointId, h]));
      for (const endpoint of endpoints) rows.push({ endpoint, health: byId.get(endpoint.id) });
      if (settings || recent.length > 0) alerts.push({ customerId, settings, recent });
    }
    const now = new Date();
    const minutes = await chartMinutes(store, viewer, now);
    return sendPage(reply, 200, endpointsPage(viewer, rows, minutes, now, alerts));
  });

  app.get('/endpoints/:customer_id/:endpoint_id', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const endpoint = await visibleEndpoint(store, viewer, request.params);
    const search = readFields(deliverySearchQuery, request.query);
    const { retried, done, backfilled, backlog, requeued } = readFields(outcomeQuery, request.query);
    const text = retried
      ? `Delivery ${retried.slice(0, 100)} queued to be sent again now.`
      : done
        ? `${DONE[done]}${done === 'enabled' ? backlogOutcome(backfilled, backlog) : ''}`
        : requeued !== undefined
          ? `${Number(requeued)} failed deliver${Number(requeued) === 1 ? 'y' : 'ies'} queued to be sent again.`
          : undefined;
    return renderEndpoint(store, reply, viewer, endpoint, 200, {
      search,
      ...(text ? { message: { kind: 'ok', text } } : {}),
    });
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

function enabledBadge(e: Endpoint): SafeHtml {
  return e.enabled
    ? html`<span class="badge badge-delivered">enabled</span>`
    : html`<span class="badge badge-failed">disabled</span> ${e.disabledReason ?? ''}`;
}

/** An endpoint's rate limit in words. */
function rateLimitText(e: Endpoint): string {
  return e.rateLimit === null ? 'none' : `${e.rateLimit}/s`;
}

/** The endpoints page: the chart, then every endpoint in scope with its health. */
export function endpointsPage(
  viewer: Viewer,
  endpoints: { endpoint: Endpoint; health: EndpointHealth | undefined }[],
  minutes: MinuteOutcomes[],
  now: Date,
  alerts: PartnerAlerts[] = [],
): string {
  const rows = endpoints.map(
    ({ endpoint: e, health: h }) => html`<tr>
      <td data-label="URL"><a class="url" href="${href(['dashboard', 'endpoints', e.customerId, e.id])}">${e.url}</a>${e.description ? html`<div class="muted">${e.description}</div>` : ''}</td>
      ${viewer.scope === undefined ? html`<td data-label="Partner">${e.customerId}</td>` : ''}
      <td data-label="State">${enabledBadge(e)}</td>
      <td data-label="Rate limit">${rateLimitText(e)}</td>
      <td data-label="Success (24 h)">${successRate(h)}</td>
      <td class="hide-narrow" data-label="Last attempt">${time(h?.lastAttemptAt)}</td>
      <td data-label="Last error">${lastError(h)}</td>
    </tr>`,
  );
  return layout({
    title: 'Webhook endpoints',
    viewer,
    section: 'endpoints',
    path: `${BASE}/endpoints`,
    body: html`<p class="page-actions"><a class="button" href="${href(['dashboard', 'endpoints', 'new'], scopeQuery(viewer))}">Add an endpoint</a></p>
      ${chart(viewer, minutes, now)}
      ${
        endpoints.length === 0
          ? html`<p class="empty">No endpoints subscribed.</p>`
          : html`<div class="table-wrap"><table class="stack-table">
        <caption class="sr-only">Endpoints and their health over the last 24 hours</caption>
        <thead><tr><th scope="col">URL</th>${viewer.scope === undefined ? html`<th scope="col">Partner</th>` : ''}<th scope="col">State</th>
          <th scope="col">Rate limit</th><th scope="col">Success (24 h)</th><th scope="col" class="hide-narrow">Last attempt</th><th scope="col">Last error</th></tr></thead>
        <tbody>${rows}</tbody></table></div>`
      }
      ${alertsSection(viewer, alerts)}`,
  });
}

/** Alerts shown per partner on the endpoints page: the last ones, newest first. */
const RECENT_ALERTS = 20;

/** A partner's failure-alert settings and its latest alerts, for the endpoints page. */
export interface PartnerAlerts {
  customerId: string;
  settings: NotificationSettings | undefined;
  recent: AlertRecord[];
}

/**
 * Failure alerts (src/alerts): where each partner is told (its notification webhook and email, set
 * with PUT …/notifications) and what it was told lately, with each message's delivery status.
 */
function alertsSection(viewer: Viewer, alerts: PartnerAlerts[]): SafeHtml {
  const settingsLine = (a: PartnerAlerts) => {
    const s = a.settings;
    return html`<li>${viewer.scope === undefined ? html`<strong>${a.customerId}</strong>: ` : ''}webhook
      ${s?.webhookUrl ? html`<span class="url">${s.webhookUrl}</span>` : 'off'}, email ${s?.email ?? 'off'}${
        s && s.events.length > 0 ? html`, events ${s.events.join(', ')}` : ''
      }</li>`;
  };
  const recent = alerts
    .flatMap((a) => a.recent)
    .sort((x, y) => y.createdAt.getTime() - x.createdAt.getTime());
  const rows = recent.slice(0, RECENT_ALERTS).map((r) => {
    const url = alertUrl(r.payload);
    return html`<tr>
      <td data-label="When">${time(r.createdAt)}</td>
      <td data-label="Alert">${r.eventType}</td>
      <td data-label="Endpoint"><span class="url">${url ?? r.endpointId}</span></td>
      <td data-label="Channel">${r.channel}</td>
      <td data-label="Status">${r.status}${r.attemptCount > 1 ? html` (${r.attemptCount} attempts)` : ''}</td>
      <td data-label="Last error">${r.lastError ?? ''}</td>
    </tr>`;
  });
  return html`<section aria-labelledby="alerts-heading">
    <h2 id="alerts-heading">Failure alerts</h2>
    ${
      alerts.length === 0
        ? html`<p class="empty">No failure alerts set up: a partner chooses a notification webhook and an email with PUT /api/v1/customers/{customer_id}/notifications.</p>`
        : html`<ul>${alerts.map(settingsLine)}</ul>`
    }
    ${
      rows.length === 0
        ? html`<p class="muted">No alerts sent yet.</p>`
        : html`<div class="table-wrap"><table class="stack-table">
      <caption class="sr-only">The latest failure alerts, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Alert</th><th scope="col">Endpoint</th><th scope="col">Channel</th><th scope="col">Status</th><th scope="col">Last error</th></tr></thead>
      <tbody>${rows}</tbody></table></div>`
    }
  </section>`;
}

/** The endpoint URL an alert's payload names, if it names one. */
function alertUrl(payload: string): string | undefined {
  try {
    const url = (JSON.parse(payload) as { data?: { url?: unknown } }).data?.url;
    return typeof url === 'string' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** One endpoint: its settings and health, its actions, then its deliveries (newest first, searchable). */
export function endpointPage(
  viewer: Viewer,
  e: Endpoint,
  h: EndpointHealth | undefined,
  deliveries: CursorPage<DeliveryOfEvent>,
  state: EndpointPageState & { search: DeliverySearchQuery },
): string {
  const self = href(['dashboard', 'endpoints', e.customerId, e.id]);
  const q = state.search;
  const searching = Boolean(q.ref || q.status || q.from || q.to);
  const back = href(['dashboard', 'endpoints', e.customerId, e.id], {
    ...scopeQuery(viewer),
    ref: q.ref,
    status: q.status,
    from: q.from?.toISOString(),
    to: q.to?.toISOString(),
  });
  const older = (cursor: string) =>
    href(['dashboard', 'endpoints', e.customerId, e.id], {
      ...scopeQuery(viewer),
      ref: q.ref,
      status: q.status,
      from: q.from?.toISOString(),
      to: q.to?.toISOString(),
      cursor,
    });
  const edit = state.edit ?? { values: valuesOf(e), errors: {} };
  return layout({
    title: `Endpoint ${e.url}`,
    viewer,
    section: 'endpoints',
    path: self,
    body: html`${state.message ? notice(state.message.kind, state.message.text) : ''}
      ${state.secret ? secretBox(state.secret) : ''}
      <dl class="card facts">
        <dt>Partner</dt><dd>${e.customerId}</dd>
        <dt>State</dt><dd>${enabledBadge(e)}</dd>
        <dt>Events</dt><dd>${e.eventTypes.join(', ')}</dd>
        <dt>Rate limit</dt><dd>${rateLimitText(e)}</dd>
        ${e.description ? html`<dt>Description</dt><dd>${e.description}</dd>` : ''}
        <dt>Success (24 h)</dt><dd>${successRate(h)}</dd>
        <dt>Last error</dt><dd>${lastError(h)}</dd>
      </dl>
      <div class="manage">
        ${endpointActions(viewer, e, state.recover ?? { since: '' })}
        ${endpointForm(viewer, {
          action: href(['dashboard', 'endpoints', e.customerId, e.id, 'edit']),
          values: edit.values,
          errors: edit.errors,
          submit: 'Save changes',
          partnerChoice: false,
          heading: 'Settings',
        })}
      </div>
      <h2 id="deliveries">Deliveries</h2>
      ${deliverySearchForm(viewer, self, q)}
      ${
        deliveries.items.length === 0
          ? html`<p class="empty">${searching ? 'No deliveries match.' : 'No deliveries yet.'}</p>`
          : deliveries.items.map((d) =>
              deliveryCard(viewer, e.customerId, d, { retry: true, endpointLink: false, back }),
            )
      }
      ${deliveries.nextCursor ? html`<nav class="pager" aria-label="Pages"><a href="${older(deliveries.nextCursor)}" rel="next">Older deliveries →</a></nav>` : ''}`,
  });
}

/** The page to subscribe an endpoint: the form, empty or as sent with its errors. */
export function newEndpointPage(viewer: Viewer, values: EndpointFormValues, errors: FieldErrors): string {
  return layout({
    title: 'Add a webhook endpoint',
    viewer,
    section: 'endpoints',
    path: `${BASE}/endpoints/new`,
    body: html`<p><a href="${href(['dashboard', 'endpoints'], scopeQuery(viewer))}">← All endpoints</a></p>
      ${endpointForm(viewer, {
        action: `${BASE}/endpoints/new`,
        values,
        errors,
        submit: 'Add endpoint',
        partnerChoice: viewer.principal.kind === 'admin',
        heading: 'New endpoint',
      })}
      <p class="muted">Its signing secret is shown once, on the next page.</p>`,
  });
}
