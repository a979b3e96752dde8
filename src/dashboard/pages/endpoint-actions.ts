/**
 * What a partner (or the operator, for any partner) does to its webhook endpoints from the dashboard:
 * subscribe one (its secret shown once, in the answer to the form), change its URL, event types,
 * description and rate limit, disable and enable it, rotate its secret (the new one shown once), send a test event,
 * and re-queue the failed deliveries since a time. The same domain calls as the API's routes
 * (src/http/routes/webhooks.ts and deliveries.ts); every change is a CSRF-checked POST (hooks.ts).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { buildEvent } from '../../contract/build.js';
import { TEST_EVENT_REF } from '../../http/routes/deliveries.js';
import type { EndpointPatch } from '../../storage/store.js';
import { rotateEndpointSecret, subscribeEndpoint } from '../../webhooks/endpoints.js';
import { field, parseUtcTime, readFields, trimmed } from '../forms.js';
import { href } from '../html.js';
import { scopeQuery, type Viewer } from '../layout.js';
import { notFound, PageError } from '../page-error.js';
import { type PageRoutes, sendPage, viewerOf } from './context.js';
import {
  checkEndpointForm,
  type EndpointFormValues,
  type FieldErrors,
  readEndpointForm,
} from './endpoint-forms.js';
import { newEndpointPage, renderEndpoint, visibleEndpoint } from './endpoints.js';

/** Why an endpoint is disabled when someone disabled it here (the dispatcher sets its own reasons). */
const DISABLED_IN_DASHBOARD = 'Disabled in the dashboard';

const enabledForm = z.object({
  enabled: field.pipe(z.enum(['true', 'false'])),
  // only when enabling: what to do with the events emitted while disabled (absent: deliver them)
  backlog: field.pipe(z.enum(['deliver', 'skip'])).optional(),
});
const recoverForm = z.object({ since: trimmed });

/** The partner a new endpoint is for: the viewer itself, or the one the operator chose. */
function ownerOf(viewer: Viewer, values: EndpointFormValues): string | undefined {
  if (viewer.principal.kind === 'partner') return viewer.principal.customerId;
  return viewer.partners.some((p) => p.customerId === values.customerId) ? values.customerId : undefined;
}

/** The message of a URL another endpoint of the partner already has (the API's 409 endpoint_exists). */
function urlTakenError(endpointId: string): string {
  return `Another endpoint of this partner (${endpointId}) already has this URL: change or delete that one, or use another URL.`;
}

/** Every POST route of endpoint management, plus the form to subscribe one. */
export const endpointActionRoutes: PageRoutes = (app, { store, delivery, endpointRules }) => {
  const deliveryRunning = (what: string) => {
    if (!delivery) throw new PageError(503, `Delivery is not running in this process, so ${what}.`);
    return delivery;
  };

  app.get('/endpoints/new', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const values = {
      customerId: viewer.scope ?? '',
      url: '',
      eventTypes: [],
      description: '',
      rateLimit: '',
    };
    return sendPage(reply, 200, newEndpointPage(viewer, values, {}));
  });

  // as POST /api/v1/customers/{id}/webhooks: the same URL policy, uniqueness and cap
  app.post('/endpoints/new', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const values = readEndpointForm(request.body);
    const owner = ownerOf(viewer, values);
    const refuse = (status: number, errors: FieldErrors) =>
      sendPage(reply, status, newEndpointPage(viewer, values, errors));
    const checked = await checkEndpointForm(values, endpointRules);
    if (owner === undefined || !checked.ok) {
      return refuse(400, {
        ...(checked.ok ? {} : checked.errors),
        ...(owner === undefined ? { customer_id: 'Choose the partner the endpoint is for.' } : {}),
      });
    }
    const subscribed = await subscribeEndpoint(
      store,
      owner,
      {
        url: checked.url,
        eventTypes: values.eventTypes,
        description: values.description || null,
        rateLimit: checked.rateLimit,
      },
      { maxPerPartner: endpointRules.maxPerPartner },
    );
    if (subscribed.outcome === 'url_taken') return refuse(409, { url: urlTakenError(subscribed.endpointId) });
    if (subscribed.outcome === 'limit_reached') {
      return refuse(409, {
        form: `A partner may have ${endpointRules.maxPerPartner} webhook endpoints; delete one before adding another.`,
      });
    }
    return renderEndpoint(store, reply, viewer, subscribed.endpoint, 201, {
      message: { kind: 'ok', text: 'Endpoint added.' },
      secret: { value: subscribed.secret, kind: 'created' },
    });
  });

  // as PATCH …/webhooks/{id} with url, event_types, description and rate_limit
  app.post('/endpoints/:customer_id/:endpoint_id/edit', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const endpoint = await visibleEndpoint(store, viewer, request.params);
    const values = { ...readEndpointForm(request.body), customerId: endpoint.customerId };
    const checked = await checkEndpointForm(values, endpointRules);
    if (!checked.ok) {
      return renderEndpoint(store, reply, viewer, endpoint, 400, {
        edit: { values, errors: checked.errors },
      });
    }
    const patch: EndpointPatch = {
      url: checked.url,
      eventTypes: values.eventTypes,
      description: values.description || null,
      rateLimit: checked.rateLimit,
    };
    const updated = await store.updateEndpoint(endpoint.customerId, endpoint.id, patch, new Date());
    if (updated.outcome === 'not_found') throw notFound();
    if (updated.outcome === 'url_taken') {
      return renderEndpoint(store, reply, viewer, endpoint, 409, {
        edit: { values, errors: { url: urlTakenError(updated.endpointId) } },
      });
    }
    return reply.redirect(pageOf(viewer, endpoint, { done: 'updated' }), 303);
  });

  // as PATCH …/webhooks/{id} with enabled (and backlog when enabling)
  app.post('/endpoints/:customer_id/:endpoint_id/enabled', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const endpoint = await visibleEndpoint(store, viewer, request.params);
    const parsed = enabledForm.safeParse(request.body ?? {});
    if (!parsed.success) {
      throw new PageError(
        400,
        'The form is not valid: enabled must be true or false, and the backlog deliver or skip.',
      );
    }
    const enabled = parsed.data.enabled === 'true';
    const backlog = parsed.data.backlog ?? 'deliver';
    const patch: EndpointPatch = enabled
      ? { enabled, disabledReason: null, backlog }
      : { enabled, disabledReason: DISABLED_IN_DASHBOARD };
    const updated = await store.updateEndpoint(endpoint.customerId, endpoint.id, patch, new Date());
    if (updated.outcome !== 'updated') throw notFound();
    if (!enabled) return reply.redirect(pageOf(viewer, endpoint, { done: 'disabled' }), 303);
    const outcome = backlog === 'deliver' ? { backfilled: updated.backfilled } : { backlog: 'skipped' };
    return reply.redirect(pageOf(viewer, endpoint, { done: 'enabled', ...outcome }), 303);
  });

  // as POST …/rotate-secret: the answer is the only place the new secret is shown
  app.post('/endpoints/:customer_id/:endpoint_id/rotate', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const endpoint = await visibleEndpoint(store, viewer, request.params);
    const rotated = await rotateEndpointSecret(store, endpoint.customerId, endpoint.id);
    if (!rotated) throw notFound();
    return renderEndpoint(store, reply, viewer, rotated.endpoint, 200, {
      message: { kind: 'ok', text: 'Secret rotated.' },
      secret: { value: rotated.secret, kind: 'rotated', previousExpiresAt: rotated.previousExpiresAt },
    });
  });

  // as POST …/test: signed with the endpoint's secrets, sent once outside the queue
  app.post('/endpoints/:customer_id/:endpoint_id/test', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const endpoint = await visibleEndpoint(store, viewer, request.params);
    const { sender } = deliveryRunning('no test event can be sent');
    const { event, json } = buildEvent({
      eventId: randomUUID(),
      customerId: endpoint.customerId,
      clientCustomerRef: TEST_EVENT_REF,
      status: 'APPROVED',
    });
    const result = await sender.send({
      url: endpoint.url,
      messageId: event.event_id,
      payload: json,
      secrets: endpoint.secrets.map((s) => s.secret),
    });
    const delivered = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const answer = result.statusCode === null ? 'no response' : `HTTP ${result.statusCode}`;
    const error = result.errorKind === null ? '' : ` (${result.errorKind}: ${result.errorMessage})`;
    return renderEndpoint(store, reply, viewer, endpoint, 200, {
      message: {
        kind: delivered ? 'ok' : 'error',
        text: `Test event ${event.event_id} ${delivered ? 'delivered' : 'not delivered'}: ${answer} in ${Math.round(result.durationMs)} ms${error}.`,
      },
    });
  });

  // as POST …/recover
  app.post('/endpoints/:customer_id/:endpoint_id/recover', async (request, reply) => {
    const viewer = await viewerOf(request, store);
    const endpoint = await visibleEndpoint(store, viewer, request.params);
    const { since: text } = readFields(recoverForm, request.body);
    const since = parseUtcTime(text);
    if (since === undefined) {
      return renderEndpoint(store, reply, viewer, endpoint, 400, {
        recover: { since: text, error: 'Give the time from which to re-queue, as a date and a time (UTC).' },
      });
    }
    const { queue } = deliveryRunning('nothing can be re-queued');
    const requeued = await queue.recover(endpoint.customerId, endpoint.id, since, new Date());
    if (requeued === undefined) throw notFound();
    return reply.redirect(pageOf(viewer, endpoint, { requeued }), 303);
  });
};

/** The endpoint's page with the outcome of an action, keeping the operator's partner choice. */
function pageOf(
  viewer: Viewer,
  e: { customerId: string; id: string },
  outcome: Record<string, string | number>,
): string {
  return href(['dashboard', 'endpoints', e.customerId, e.id], { ...scopeQuery(viewer), ...outcome });
}
