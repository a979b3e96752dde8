/**
 * One delivery with every attempt (status code, duration, error, response excerpt), the third party
 * and status its event carries, and, where it makes sense, a confirmed retry.
 */
import { z } from 'zod';
import type { Delivery, DeliveryOfEvent } from '../../storage/store.js';
import { dashboardPath, readFields, readParams } from '../forms.js';
import { href, html, type SafeHtml } from '../html.js';
import { BASE, badge, time, type Viewer } from '../layout.js';
import { notFound, PageError } from '../page-error.js';
import { ensureVisible, type PageRoutes, viewerOf } from './context.js';
import { confirmAction } from './shared.js';

const retryParams = z.object({ customer_id: z.string(), endpoint_id: z.string(), delivery_id: z.string() });
/** The retry button's form: the page to go back to (its own, by default the endpoint's). */
const retryForm = z.object({ back: dashboardPath });

/**
 * Whether sending a delivery again now makes sense: it failed, or it waits for a later attempt. Not
 * when it was delivered, nor while it is due or being sent (in flight), nor while it waits behind an
 * earlier delivery of the same third party (sending it first would break their order).
 *
 * @example
 * retryable({ status: 'failed', … }, new Date()); // true
 */
export function retryable(d: Delivery, now: Date): boolean {
  if (d.status === 'failed') return true;
  return d.status === 'pending' && !d.waitingFor && d.nextAttemptAt !== null && d.nextAttemptAt > now;
}

/**
 * `POST /dashboard/endpoints/:customer_id/:endpoint_id/deliveries/:delivery_id/retry`: the same queue
 * call as `POST /api/v1/…/deliveries/{id}/retry`, for a delivery where a retry makes sense (409 else).
 */
export const retryRoutes: PageRoutes = (app, { store, delivery }) => {
  app.post('/endpoints/:customer_id/:endpoint_id/deliveries/:delivery_id/retry', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const p = readParams(retryParams, request.params);
    ensureVisible(viewer, p.customer_id);
    const { back } = readFields(retryForm, request.body);
    if (!delivery)
      throw new PageError(503, 'Delivery is not running in this process, so nothing can be retried.');
    const now = new Date();
    const current = await store.getDelivery(p.customer_id, p.endpoint_id, p.delivery_id);
    if (!current) throw notFound();
    if (!retryable(current, now)) {
      throw new PageError(
        409,
        current.status === 'delivered'
          ? 'That delivery was delivered: there is nothing to retry.'
          : 'That delivery is being sent now (or waits for an earlier one): there is nothing to retry.',
      );
    }
    const retried = await delivery.queue.retry(p.customer_id, p.endpoint_id, p.delivery_id, now);
    if (!retried) throw notFound();
    const fallback = `${BASE}/endpoints/${encodeURIComponent(p.customer_id)}/${encodeURIComponent(p.endpoint_id)}`;
    const target = new URL(back ?? fallback, 'http://x');
    target.searchParams.set('retried', retried.id);
    return reply.redirect(`${target.pathname}${target.search}#delivery-${retried.id}`, 303);
  });
};

function attemptRows(d: Delivery): SafeHtml {
  if (d.attempts.length === 0) return html`<p class="muted">No attempt yet.</p>`;
  return html`<ol class="attempts">${d.attempts.map(
    (a) => html`<li>
      ${time(a.at)} · <span class="code ${a.statusCode !== null && a.statusCode < 300 ? 'ok' : 'bad'}">${a.statusCode === null ? 'no response' : `HTTP ${a.statusCode}`}</span>
      · ${a.durationMs} ms
      ${a.error && a.error !== `HTTP ${a.statusCode}` ? html`<div class="err">${a.error}</div>` : ''}
      ${a.responseExcerpt ? html`<pre class="excerpt">${a.responseExcerpt}</pre>` : ''}
    </li>`,
  )}</ol>`;
}

/**
 * When a pending delivery goes out: after the earlier event of the same third party it waits for
 * (its own due time, long past, would read as stuck), or at its next attempt.
 */
function nextAttempt(d: Delivery): SafeHtml | '' {
  if (d.status !== 'pending') return '';
  if (d.waitingFor) {
    return html`<span class="muted waiting" data-waiting-for="${d.waitingFor.eventId}">waiting for the earlier event <a href="#delivery-${d.waitingFor.deliveryId}"><code>${d.waitingFor.eventId}</code></a> for this third party</span>`;
  }
  return d.nextAttemptAt ? html`<span class="muted">next ${time(d.nextAttemptAt)}</span>` : '';
}

/** Which third party the delivery's event is about and the status it carries, linked to its timeline. */
function eventLine(customerId: string, d: DeliveryOfEvent): SafeHtml {
  return html`<p class="delivery-event">
    <a class="ref" href="${href(['dashboard', 'customers', customerId, d.clientCustomerRef])}">${d.clientCustomerRef}</a>
    ${d.eventStatus ? html`→ ${badge(d.eventStatus)}` : ''}
    <span class="muted">created ${time(d.createdAt)}</span>
  </p>`;
}

/**
 * A delivery card. With `retry`, and where a retry makes sense ({@link retryable}), a confirmed POST
 * form (CSRF-protected) that sends it again now. A delivery that says what its event carries
 * ({@link DeliveryOfEvent}) shows its third party and status.
 *
 * @example
 * deliveryCard(viewer, customerId, delivery, { retry: true, endpointLink: false });
 */
export function deliveryCard(
  viewer: Viewer,
  customerId: string,
  d: Delivery | DeliveryOfEvent,
  o: { retry: boolean; endpointLink: boolean; back?: string; now?: Date },
): SafeHtml {
  const endpointUrl = href(['dashboard', 'endpoints', customerId, d.endpointId]);
  const now = o.now ?? new Date();
  return html`<article class="delivery" id="delivery-${d.id}" data-status="${d.status}"${'clientCustomerRef' in d ? html` data-ref="${d.clientCustomerRef}"` : ''}>
    <header>
      ${badge(d.status)}
      <span class="delivery-id">Delivery <code>${d.id}</code></span>
      ${o.endpointLink ? html`<span>to <a href="${endpointUrl}">endpoint ${d.endpointId.slice(0, 8)}</a></span>` : ''}
      <span class="muted">${d.attemptCount} attempt${d.attemptCount === 1 ? '' : 's'}</span>
      ${nextAttempt(d)}
    </header>
    ${'clientCustomerRef' in d ? eventLine(customerId, d) : ''}
    ${attemptRows(d)}
    ${
      o.retry && retryable(d, now)
        ? confirmAction({
            label: 'Retry now',
            explain:
              d.status === 'failed'
                ? 'Send this delivery again now, with a fresh retry schedule?'
                : 'Send this delivery now instead of at its next attempt?',
            confirm: 'Yes, send it again now',
            action: href(['dashboard', 'endpoints', customerId, d.endpointId, 'deliveries', d.id, 'retry']),
            csrf: viewer.csrf,
            ...(o.back ? { fields: { back: o.back } } : {}),
          })
        : ''
    }
  </article>`;
}
