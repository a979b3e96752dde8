/** One delivery with every attempt (status code, duration, error, response excerpt) and its retry button. */
import { z } from 'zod';
import type { Delivery } from '../../storage/store.js';
import { dashboardPath, readFields, readParams } from '../forms.js';
import { href, html, type SafeHtml } from '../html.js';
import { BASE, badge, time, type Viewer } from '../layout.js';
import { notFound, PageError } from '../page-error.js';
import { ensureVisible, type PageRoutes, viewerOf } from './context.js';

const retryParams = z.object({ customer_id: z.string(), endpoint_id: z.string(), delivery_id: z.string() });
/** The retry button's form: the page to go back to (its own, by default the endpoint's). */
const retryForm = z.object({ back: dashboardPath });

/**
 * `POST /dashboard/endpoints/:customer_id/:endpoint_id/deliveries/:delivery_id/retry`: the same queue
 * call as `POST /api/v1/…/deliveries/{id}/retry`.
 */
export const retryRoutes: PageRoutes = (app, { store, delivery }) => {
  app.post('/endpoints/:customer_id/:endpoint_id/deliveries/:delivery_id/retry', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const p = readParams(retryParams, request.params);
    ensureVisible(viewer, p.customer_id);
    const { back } = readFields(retryForm, request.body);
    if (!delivery)
      throw new PageError(503, 'Delivery is not running in this process, so nothing can be retried.');
    const retried = await delivery.queue.retry(p.customer_id, p.endpoint_id, p.delivery_id, new Date());
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

/**
 * A delivery card. With `retry`, a POST form (CSRF-protected) that sends it again now.
 *
 * @example
 * deliveryCard(viewer, customerId, delivery, { retry: true, endpointLink: false });
 */
export function deliveryCard(
  viewer: Viewer,
  customerId: string,
  d: Delivery,
  o: { retry: boolean; endpointLink: boolean; back?: string },
): SafeHtml {
  const endpointUrl = href(['dashboard', 'endpoints', customerId, d.endpointId]);
  return html`<article class="delivery" id="delivery-${d.id}" data-status="${d.status}">
    <header>
      ${badge(d.status)}
      <span>Delivery <code>${d.id}</code></span>
      ${o.endpointLink ? html`<span>to <a href="${endpointUrl}">endpoint ${d.endpointId.slice(0, 8)}</a></span>` : ''}
      <span class="muted">${d.attemptCount} attempt${d.attemptCount === 1 ? '' : 's'}</span>
      ${nextAttempt(d)}
    </header>
    ${attemptRows(d)}
    ${
      o.retry
        ? html`<form method="post" action="${href(['dashboard', 'endpoints', customerId, d.endpointId, 'deliveries', d.id, 'retry'])}">
        <input type="hidden" name="csrf" value="${viewer.csrf}">
        ${o.back ? html`<input type="hidden" name="back" value="${o.back}">` : ''}
        <button type="submit">Retry now</button>
      </form>`
        : ''
    }
  </article>`;
}
