/** One third-party customer: its profile and its timeline (created, each decision, its event and deliveries). */
import { z } from 'zod';
import type { EventDeliveries, Reason, ThirdPartyCustomer } from '../../storage/store.js';
import { optionalText, readFields, readParams } from '../forms.js';
import { href, html, type SafeHtml } from '../html.js';
import { badge, layout, time, type Viewer } from '../layout.js';
import { notFound } from '../page-error.js';
import { ensureVisible, type PageRoutes, sendPage, viewerOf } from './context.js';
import { deliveryCard } from './deliveries.js';
import { displayName, notice } from './shared.js';

/** The newest events a timeline shows. */
const MAX_TIMELINE_EVENTS = 200;

const timelineParams = z.object({ customer_id: z.string(), ref: z.string() });
/** `?retried=`: the delivery just sent again from this page (the retry route redirects here). */
const timelineQuery = z.object({ retried: optionalText });

/** `GET /dashboard/customers/:customer_id/:ref`. */
export const timelineRoutes: PageRoutes = (app, { store }) => {
  app.get('/customers/:customer_id/:ref', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const { customer_id: customerId, ref } = readParams(timelineParams, request.params);
    ensureVisible(viewer, customerId);
    const thirdParty = await store.getThirdParty(customerId, ref);
    if (!thirdParty) throw notFound();
    const events = await store.listThirdPartyEvents(customerId, ref, MAX_TIMELINE_EVENTS);
    const { retried } = readFields(timelineQuery, request.query);
    const message = retried ? `Delivery ${retried.slice(0, 100)} queued to be sent again now.` : undefined;
    return sendPage(reply, 200, timelinePage(viewer, thirdParty, events, message));
  });
};

/** The decision an event carries, and the `event_timestamp` receivers order by, from its exact payload. */
function decisionOf(e: EventDeliveries): { status: string; reasons: Reason[]; eventTimestamp: string } {
  try {
    const event = JSON.parse(e.event.payload) as {
      event_timestamp?: unknown;
      data?: { status?: unknown; reasons?: unknown };
    };
    const data = event.data;
    return {
      status: typeof data?.status === 'string' ? data.status : 'UNKNOWN',
      reasons: Array.isArray(data?.reasons) ? (data.reasons as Reason[]) : [],
      eventTimestamp: typeof event.event_timestamp === 'string' ? event.event_timestamp : '',
    };
  } catch {
    return { status: 'UNKNOWN', reasons: [], eventTimestamp: '' };
  }
}

function profile(t: ThirdPartyCustomer): SafeHtml {
  const entries = Object.entries(t.clientCustomerDetails).map(
    ([k, v]) =>
      html`<dt>${k.replaceAll('_', ' ')}</dt><dd>${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}</dd>`,
  );
  const properties = t.propertyDetails.map(
    (p) =>
      html`<li>${Object.entries(p)
        .map(
          ([k, v]) =>
            `${k.replaceAll('_', ' ')}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`,
        )
        .join(' · ')}</li>`,
  );
  return html`<details class="card profile"><summary>Profile</summary>
    <dl>${entries}</dl>
    <h3>Properties</h3><ul>${properties}</ul>
  </details>`;
}

/** The timeline page; `notice` after a retry or decision done from here. */
export function timelinePage(
  viewer: Viewer,
  t: ThirdPartyCustomer,
  events: EventDeliveries[],
  message?: string,
): string {
  const self = href(['dashboard', 'customers', t.customerId, t.clientCustomerRef]);
  const items = events.map((e) => {
    const d = decisionOf(e);
    return html`<li class="step">
      <h2>${time(e.event.createdAt)} · Decision ${badge(d.status)}</h2>
      ${
        d.reasons.length > 0
          ? html`<ul class="reasons">${d.reasons.map((r) => html`<li><code>${r.code}</code> ${r.reason}</li>`)}</ul>`
          : ''
      }
      <p class="muted">Event <code>${e.event.eventId}</code> · ${e.event.eventType} · event_timestamp
        <code class="event-timestamp">${d.eventTimestamp}</code></p>
      ${
        e.deliveries.length === 0
          ? html`<p class="muted">No endpoint was subscribed: nothing to deliver.</p>`
          : e.deliveries.map((dl) =>
              deliveryCard(viewer, t.customerId, dl, { retry: true, endpointLink: true, back: self }),
            )
      }
    </li>`;
  });
  return layout({
    title: `${displayName(t)} (${t.clientCustomerRef})`,
    viewer,
    section: 'customers',
    path: self,
    body: html`${notice('ok', message)}
      <p>Partner <strong>${t.customerId}</strong> · status ${badge(t.status)}
        ${t.status === 'PENDING' && viewer.principal.kind === 'admin' ? html` · <a href="${href(['dashboard', 'review'], { partner: t.customerId })}">decide in the review queue</a>` : ''}</p>
      ${profile(t)}
      <ol class="timeline">
        <li class="step"><h2>${time(t.createdAt)} · Created ${badge('PENDING')}</h2><p class="muted">Submitted by the partner.</p></li>
        ${items}
      </ol>`,
  });
}
