/**
 * The endpoint forms' fields and what they render: the subscribe and edit form (values kept, errors
 * under their fields; the rate limit with them), the signing secret shown once, the actions on one endpoint (disable or enable,
 * rotate, test, recover) and the deliveries' search.
 */
import { z } from 'zod';
import type { DeliveryStatus, Endpoint } from '../../storage/store.js';
import { EVENT_TYPES, MAX_RATE_LIMIT, newEndpointSchema } from '../../webhooks/schema.js';
import { checkEndpointUrl } from '../../webhooks/url-policy.js';
import { fieldList, optionalField, optionalText, optionalTime, trimmed } from '../forms.js';
import { href, html, type SafeHtml } from '../html.js';
import { time, type Viewer } from '../layout.js';
import type { EndpointRules } from './context.js';
import { confirmAction, fieldError, invalidIf, notice } from './shared.js';

/** What the subscribe and edit form hold, as typed (so a form with an error shows it again). */
export interface EndpointFormValues {
  customerId: string;
  url: string;
  eventTypes: string[];
  description: string;
  /** Deliveries per second, as typed; empty: no limit. */
  rateLimit: string;
}

/** The problems of a form, by field; `form` for one that is about the whole form. */
export type FieldErrors = Partial<
  Record<'customer_id' | 'url' | 'event_types' | 'description' | 'rate_limit' | 'form', string>
>;

/** A success or error line above a page. */
export type Message = { kind: 'ok' | 'error'; text: string };

/** The subscribe and edit form's body. */
const endpointFormBody = z.object({
  customer_id: trimmed,
  url: trimmed,
  event_types: fieldList,
  description: trimmed,
  rate_limit: trimmed,
});

/** Reads the form as typed; never fails (what is wrong is for {@link checkEndpointForm} to say). */
export function readEndpointForm(body: unknown): EndpointFormValues {
  const parsed = endpointFormBody.safeParse(body ?? {});
  const f = parsed.success
    ? parsed.data
    : { customer_id: '', url: '', event_types: [], description: '', rate_limit: '' };
  return {
    customerId: f.customer_id,
    url: f.url,
    eventTypes: f.event_types,
    description: f.description,
    rateLimit: f.rate_limit,
  };
}

/** The rate limit as typed: empty is no limit; anything else must be what the API accepts. */
function typedRateLimit(text: string): number | null | string {
  if (text === '') return null;
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}

/**
 * Checks the form with the API's schema and URL policy: the URL as it will be stored and the rate
 * limit (null: none), or the problem of each field. The URL is resolved only when its shape is right.
 */
export async function checkEndpointForm(
  values: EndpointFormValues,
  rules: EndpointRules,
): Promise<{ ok: true; url: string; rateLimit: number | null } | { ok: false; errors: FieldErrors }> {
  const parsed = newEndpointSchema.safeParse({
    url: values.url,
    event_types: values.eventTypes,
    ...(values.description ? { description: values.description } : {}),
    rate_limit: typedRateLimit(values.rateLimit),
  });
  const errors: FieldErrors = {};
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path[0];
      if (
        (key === 'url' || key === 'event_types' || key === 'description' || key === 'rate_limit') &&
        !errors[key]
      ) {
        errors[key] = issue.message;
      }
    }
    return { ok: false, errors };
  }
  const check = await checkEndpointUrl(parsed.data.url, {
    allowPrivate: rules.allowPrivate,
    ...(rules.resolveHost ? { resolve: rules.resolveHost } : {}),
  });
  return check.ok
    ? { ok: true, url: check.url, rateLimit: parsed.data.rate_limit ?? null }
    : { ok: false, errors: { url: check.problem } };
}

/** The form's values for an existing endpoint. */
export function valuesOf(e: Endpoint): EndpointFormValues {
  return {
    customerId: e.customerId,
    url: e.url,
    eventTypes: e.eventTypes,
    description: e.description ?? '',
    rateLimit: e.rateLimit === null ? '' : String(e.rateLimit),
  };
}

/**
 * The subscribe or edit form. The operator picks the partner when subscribing (`partnerChoice`); a
 * partner always subscribes its own endpoints.
 */
export function endpointForm(
  viewer: Viewer,
  o: {
    action: string;
    values: EndpointFormValues;
    errors: FieldErrors;
    submit: string;
    partnerChoice: boolean;
    heading: string;
  },
): SafeHtml {
  const { values: v, errors: e } = o;
  const partnerField = o.partnerChoice
    ? html`<label for="ep-partner">Partner</label>
      <select id="ep-partner" name="customer_id" required${invalidIf('ep-partner-error', e.customer_id)}>
        <option value="">Choose a partner</option>
        ${viewer.partners.map((p) => html`<option value="${p.customerId}"${p.customerId === v.customerId ? html` selected` : ''}>${p.customerId}${p.name ? ` — ${p.name}` : ''}</option>`)}
      </select>${fieldError('ep-partner-error', e.customer_id)}`
    : html`<input type="hidden" name="customer_id" value="${v.customerId}">`;
  return html`<form class="card stack endpoint-form" method="post" action="${o.action}" novalidate>
    <h2>${o.heading}</h2>
    <input type="hidden" name="csrf" value="${viewer.csrf}">
    ${e.form ? notice('error', e.form) : ''}
    ${partnerField}
    <label for="ep-url">URL</label>
    <input id="ep-url" name="url" type="url" inputmode="url" autocomplete="off" required maxlength="2048" value="${v.url}" placeholder="https://partner.example/webhooks/tpcs"${invalidIf('ep-url-error', e.url)}>
    ${fieldError('ep-url-error', e.url)}
    <fieldset class="choices"${invalidIf('ep-types-error', e.event_types)}>
      <legend>Event types</legend>
      ${EVENT_TYPES.map((t, i) => html`<label><input type="checkbox" id="ep-type-${i}" name="event_types" value="${t}"${v.eventTypes.includes(t) ? html` checked` : ''}> ${t}</label>`)}
    </fieldset>
    ${fieldError('ep-types-error', e.event_types)}
    <label for="ep-description">Description (optional)</label>
    <input id="ep-description" name="description" maxlength="500" value="${v.description}"${invalidIf('ep-description-error', e.description)}>
    ${fieldError('ep-description-error', e.description)}
    <label for="ep-rate-limit">Rate limit: most deliveries per second, from every worker together (optional)</label>
    <input id="ep-rate-limit" name="rate_limit" type="number" inputmode="numeric" min="1" max="${MAX_RATE_LIMIT}" step="1" value="${v.rateLimit}" placeholder="no limit"${invalidIf('ep-rate-limit-error', e.rate_limit)}>
    ${fieldError('ep-rate-limit-error', e.rate_limit)}
    <button type="submit">${o.submit}</button>
  </form>`;
}

/** A signing secret just made, shown this once (the page is never cached: `no-store`). */
export interface ShownSecret {
  value: string;
  kind: 'created' | 'rotated';
  /** After a rotation: when the previous secret stops signing. */
  previousExpiresAt?: Date;
}

/** The secret, with a clear "store it now". */
export function secretBox(s: ShownSecret): SafeHtml {
  return html`<section class="card secret" aria-labelledby="secret-title">
    <h2 id="secret-title">${s.kind === 'created' ? 'Signing secret' : 'New signing secret'}: store it now</h2>
    <p>This is the only time it is shown. Put it in your receiver's configuration before you leave this
      page; if it is lost, rotate it to get a new one.</p>
    <p><code class="secret-value" data-secret>${s.value}</code></p>
    ${s.previousExpiresAt ? html`<p class="muted">The previous secret keeps signing until ${time(s.previousExpiresAt)}, so that deliveries verify while you deploy this one.</p>` : ''}
  </section>`;
}

/** The recover form's one field, kept when it is wrong. */
export interface RecoverState {
  since: string;
  error?: string;
}

/** Disable or enable, rotate, test, recover: each a POST, the destructive ones confirmed first. */
export function endpointActions(viewer: Viewer, e: Endpoint, recover: RecoverState): SafeHtml {
  const path = (action: string) => href(['dashboard', 'endpoints', e.customerId, e.id, action]);
  const toggle = e.enabled
    ? confirmAction({
        label: 'Disable…',
        explain:
          'Nothing is sent to this endpoint while it is disabled; its deliveries wait until it is enabled again.',
        confirm: 'Yes, disable it',
        action: path('enabled'),
        csrf: viewer.csrf,
        fields: { enabled: 'false' },
        className: 'danger',
      })
    : html`<form class="enable" method="post" action="${path('enabled')}">
        <input type="hidden" name="csrf" value="${viewer.csrf}"><input type="hidden" name="enabled" value="true">
        <fieldset class="choices">
          <legend>The events emitted while it was disabled</legend>
          <label><input type="radio" name="backlog" value="deliver" checked> Deliver them, in order</label>
          <label><input type="radio" name="backlog" value="skip"> Skip them</label>
        </fieldset>
        <button type="submit">Enable</button>
      </form>`;
  return html`<section class="card actions" aria-labelledby="actions-title">
    <h2 id="actions-title">Actions</h2>
    <div class="action-row">
      ${toggle}
      ${confirmAction({
        label: 'Rotate the secret…',
        explain:
          'A new secret signs every delivery from now on and is shown once; the current one keeps signing for 24 hours.',
        confirm: 'Yes, rotate it',
        action: path('rotate'),
        csrf: viewer.csrf,
        className: 'danger',
      })}
      <form method="post" action="${path('test')}">
        <input type="hidden" name="csrf" value="${viewer.csrf}">
        <button type="submit">Send a test event</button>
      </form>
    </div>
    <form class="recover" method="post" action="${path('recover')}" novalidate>
      <input type="hidden" name="csrf" value="${viewer.csrf}">
      <label for="recover-since">Re-queue the failed deliveries created since (UTC)</label>
      <div class="inline">
        <input id="recover-since" name="since" type="datetime-local" required value="${recover.since}"${invalidIf('recover-error', recover.error)}>
        <button type="submit">Recover</button>
      </div>
      ${fieldError('recover-error', recover.error)}
    </form>
  </section>`;
}

/** The deliveries' search, as read from the endpoint page's query string (lenient, like every query). */
export const deliverySearchQuery = z.object({
  ref: optionalField(z.string().transform((s) => s.trim().slice(0, 64))),
  status: optionalField(z.enum(['pending', 'delivered', 'failed'])),
  from: optionalTime,
  to: optionalTime,
  cursor: optionalText,
});

export type DeliverySearchQuery = z.output<typeof deliverySearchQuery>;

/** A time as a `datetime-local` value, in UTC. */
export function localValue(at: Date | undefined): string {
  return at ? at.toISOString().slice(0, 16) : '';
}

const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'failed'];

/** The search form above the deliveries: third party, status, time range (UTC). */
export function deliverySearchForm(viewer: Viewer, path: string, q: DeliverySearchQuery): SafeHtml {
  return html`<form class="filters delivery-search" method="get" action="${path}" role="search">
    ${viewer.principal.kind === 'admin' && viewer.scope ? html`<input type="hidden" name="partner" value="${viewer.scope}">` : ''}
    <span class="filter"><label for="ds-ref">Third party (reference)</label>
      <input id="ds-ref" name="ref" type="search" maxlength="64" value="${q.ref ?? ''}"></span>
    <span class="filter"><label for="ds-status">Status</label>
      <select id="ds-status" name="status"><option value="">Any</option>
        ${DELIVERY_STATUSES.map((s) => html`<option value="${s}"${s === q.status ? html` selected` : ''}>${s}</option>`)}
      </select></span>
    <span class="filter"><label for="ds-from">From (UTC)</label>
      <input id="ds-from" name="from" type="datetime-local" value="${localValue(q.from)}"></span>
    <span class="filter"><label for="ds-to">Until (UTC)</label>
      <input id="ds-to" name="to" type="datetime-local" value="${localValue(q.to)}"></span>
    <button type="submit">Search</button>
    ${q.ref || q.status || q.from || q.to ? html`<a href="${path}">Clear</a>` : ''}
  </form>`;
}
