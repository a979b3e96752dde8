/** Partner API: where failure alerts go (`/api/v1/customers/{customer_id}/notifications`; src/alerts). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  notificationSettingsInputSchema,
  notificationSettingsSavedSchema,
  notificationSettingsSchema,
  saveNotificationSettings,
  toNotificationView,
} from '../../alerts/notifications.js';
import { checkEndpointUrl } from '../../webhooks/url-policy.js';
import { HttpError } from '../errors.js';
import { jsonAnswer } from '../openapi.js';
import { customerParamsSchema, errorResponses, PARTNER_SECURITY, type RouteDeps } from './shared.js';

const PATH = '/api/v1/customers/:customer_id/notifications';
const TAGS = ['webhook endpoints'];

const invalidUrl = (message: string) =>
  new HttpError('validation_failed', 'The request body is invalid', {
    in: 'body',
    problems: [{ path: '$.webhook_url', message }],
  });

/** The notification settings routes. */
export const notificationRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, deps) => {
  const { store, auth } = deps;
  app.addHook('onRequest', auth.requirePartner);

  app.get(
    PATH,
    {
      schema: {
        operationId: 'getNotificationSettings',
        summary: 'Get where failure alerts about your webhook endpoints are sent',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: customerParamsSchema,
        response: {
          200: jsonAnswer('The settings (the defaults when never set)', notificationSettingsSchema),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request) => {
      const customerId = request.params.customer_id;
      return toNotificationView(customerId, await store.getNotificationSettings(customerId));
    },
  );

  app.put(
    PATH,
    {
      schema: {
        operationId: 'setNotificationSettings',
        summary: 'Set where failure alerts are sent; the answer holds a new notification secret, shown once',
        description:
          'Alerts (`endpoint.failing`, `endpoint.disabling`, `endpoint.disabled`, `endpoint.recovered`, `delivery.failed`; see `webhooks`) go to `webhook_url`, signed with the notification secret, and to `email`; `null` turns a channel off. The secret is made when a `webhook_url` is first set, or with `rotate_secret: true`, and shown only in that answer. A `webhook_url` equal to one of your webhook endpoints is refused: alerts about an endpoint are never sent to it.',
        tags: TAGS,
        security: PARTNER_SECURITY,
        params: customerParamsSchema,
        body: notificationSettingsInputSchema,
        response: {
          200: jsonAnswer('The settings as saved', notificationSettingsSavedSchema),
          ...errorResponses(400, 401, 404, 413, 415),
        },
      },
    },
    async (request) => {
      const customerId = request.params.customer_id;
      const body = request.body;
      let webhookUrl: string | null = null;
      if (body.webhook_url !== null) {
        const check = await checkEndpointUrl(body.webhook_url, {
          allowPrivate: deps.allowPrivateEndpoints,
          ...(deps.resolveHost ? { resolve: deps.resolveHost } : {}),
        });
        if (!check.ok) throw invalidUrl(check.problem);
        const endpoints = await store.listEndpoints(customerId);
        const same = endpoints.find((e) => e.url === check.url);
        if (same) {
          throw invalidUrl(
            `Must not be the URL of one of your webhook endpoints (${same.id}): alerts about an endpoint are never sent to it`,
          );
        }
        webhookUrl = check.url;
      }
      const { settings, secret } = await saveNotificationSettings(store, customerId, {
        ...body,
        webhook_url: webhookUrl,
      });
      return { ...toNotificationView(customerId, settings), secret };
    },
  );
};
