/** Operator API: compliance decisions on third-party customers. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  complianceDecisionSchema,
  MAX_STAMP_AHEAD_MS,
  recordComplianceDecision,
} from '../../customers/decisions.js';
import { clientCustomerRefSchema, thirdPartyCustomerViewSchema } from '../../customers/schema.js';
import { toThirdPartyCustomerView } from '../../customers/third-parties.js';
import { toEventView } from '../../webhooks/events.js';
import { eventViewSchema } from '../../webhooks/schema.js';
import { HttpError } from '../errors.js';
import { jsonAnswer } from '../openapi.js';
import { ADMIN_SECURITY, customerIdSchema, errorResponses, type RouteDeps } from './shared.js';

const decisionResultSchema = z
  .object({
    third_party: thirdPartyCustomerViewSchema,
    event: eventViewSchema
      .nullable()
      .meta({ description: 'The event emitted; null when the status did not change' }),
  })
  .meta({ id: 'ComplianceDecisionResult' });

/** `POST /api/v1/admin/customers/{customer_id}/third-parties/{client_customer_ref}/decision`. */
export const decisionRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { store, auth }) => {
  app.addHook('onRequest', auth.requireAdmin);

  app.post(
    '/api/v1/admin/customers/:customer_id/third-parties/:client_customer_ref/decision',
    {
      schema: {
        operationId: 'recordComplianceDecision',
        summary: 'Record a compliance decision; a status change emits the event in the same transaction',
        description:
          'APPROVED takes no reasons; REJECTED needs one or more. A decision equal to the current status (REJECTED with the same reasons) changes nothing and emits no event. Decisions on one third party faster than one a second are stamped a second apart; past a minute ahead of the clock they are refused with 429.',
        tags: ['operator'],
        security: ADMIN_SECURITY,
        params: z.object({ customer_id: customerIdSchema, client_customer_ref: clientCustomerRefSchema }),
        body: complianceDecisionSchema,
        response: {
          200: jsonAnswer(
            'The third party as it is now, and the event emitted (null: none)',
            decisionResultSchema,
          ),
          ...errorResponses(400, 401, 404, 413, 415, 429),
        },
      },
    },
    async (request) => {
      const { customer_id: customerId, client_customer_ref: clientCustomerRef } = request.params;
      const result = await recordComplianceDecision(store, {
        customerId,
        clientCustomerRef,
        decision: request.body,
      });
      if (result.outcome === 'too_fast') {
        throw new HttpError(
          'rate_limited',
          `Decisions on ${clientCustomerRef} come faster than one a second: its events are already stamped ` +
            `${MAX_STAMP_AHEAD_MS / 1000} s ahead of the clock. Decide again in ${result.retryAfterSeconds} s.`,
          { retry_after_seconds: result.retryAfterSeconds },
        );
      }
      if (result.outcome === 'not_found') {
        throw new HttpError(
          'not_found',
          `No third party customer ${clientCustomerRef} for customer ${customerId}`,
        );
      }
      return {
        third_party: toThirdPartyCustomerView(result.thirdParty),
        event: result.outcome === 'changed' ? toEventView(result.event) : null,
      };
    },
  );
};
