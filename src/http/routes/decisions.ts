/** Operator API: compliance decisions on third-party customers, one at a time or in a batch. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  type ComplianceDecisionRequest,
  type ComplianceDecisionResult,
  complianceDecisionSchema,
  MAX_STAMP_AHEAD_MS,
  recordComplianceDecision,
  recordComplianceDecisions,
} from '../../customers/decisions.js';
import { clientCustomerRefSchema, thirdPartyCustomerViewSchema } from '../../customers/schema.js';
import { toThirdPartyCustomerView } from '../../customers/third-parties.js';
import type { Problem } from '../../errors/index.js';
import { toEventView } from '../../webhooks/events.js';
import { eventViewSchema } from '../../webhooks/schema.js';
import { errorBodySchema, HttpError, parseRequestPart } from '../errors.js';
import { jsonAnswer } from '../openapi.js';
import { ADMIN_SECURITY, customerIdSchema, errorResponses, type RouteDeps } from './shared.js';

/** The most decisions one batch request may carry; more answers 413. */
export const MAX_BATCH_DECISIONS = 1000;
/**
 * The largest batch body: about 4 KiB a decision at the most decisions, room for several long reasons
 * each (the API's other bodies stop at 64 KiB).
 */
export const BATCH_BODY_LIMIT = 4 * 1024 * 1024;

const decisionResultSchema = z
  .object({
    third_party: thirdPartyCustomerViewSchema,
    event: eventViewSchema
      .nullable()
      .meta({ description: 'The event emitted; null when the status did not change' }),
  })
  .meta({ id: 'ComplianceDecisionResult' });

/** Which third party a decision of a batch is about. */
const target = { customer_id: customerIdSchema, client_customer_ref: clientCustomerRefSchema };
const [approved, rejected] = complianceDecisionSchema.options;

/** One decision of a batch: the single decision's body and rules, with the third party it is about. */
const batchDecisionSchema = z
  .discriminatedUnion(
    'status',
    [z.strictObject(target).extend(approved.shape), z.strictObject(target).extend(rejected.shape)],
    {
      error: (iss) => (iss.code === 'invalid_union' ? 'Must be "APPROVED" or "REJECTED"' : undefined),
    },
  )
  .meta({
    id: 'BatchComplianceDecision',
    description:
      'A compliance decision and the third party it is about: `{"customer_id", "client_customer_ref", "status": "APPROVED"}`, or `"status": "REJECTED"` with `reasons`.',
  });

// Each decision is checked on its own (an invalid one is answered in its result, and the others are
// recorded), so the body's schema checks only the envelope; the document shows the items' schema.
const batchBodySchema = z
  .strictObject({
    decisions: z
      .array(z.unknown())
      .min(1, 'Give at least one decision')
      .meta({
        items: { $ref: '#/components/schemas/BatchComplianceDecision' },
        maxItems: MAX_BATCH_DECISIONS,
        description: '1 to 1,000 decisions, recorded in this order',
      }),
  })
  .meta({ id: 'BatchComplianceDecisions' });

const batchResultSchema = z
  .union([
    z.object({
      index: z.int().min(0).meta({ description: "The decision's position in the request" }),
      status: z.literal(200).meta({ description: 'What the single decision route would have answered' }),
      third_party: thirdPartyCustomerViewSchema,
      event: eventViewSchema
        .nullable()
        .meta({ description: 'The event emitted; null when the status did not change' }),
    }),
    errorBodySchema.extend({
      index: z.int().min(0).meta({ description: "The decision's position in the request" }),
      status: z.literal([400, 404, 429]).meta({
        description:
          '400: the decision is invalid (`validation_failed`, problems at `$.decisions[index]…`); 404: no such third party; 429: decisions on it run a minute ahead of the clock',
      }),
    }),
  ])
  .meta({ id: 'BatchComplianceDecisionResult' });

const batchResultsSchema = z
  .object({
    results: z
      .array(batchResultSchema)
      .meta({ description: 'One result per decision, in the order of the request' }),
  })
  .meta({ id: 'BatchComplianceDecisionResults' });

/** The answer to a decision that ended in the store: its view, or the error a single decision gets. */
function answerOf(
  result: ComplianceDecisionResult,
  { customerId, clientCustomerRef }: Pick<ComplianceDecisionRequest, 'customerId' | 'clientCustomerRef'>,
): z.input<typeof decisionResultSchema> | HttpError {
  if (result.outcome === 'too_fast') {
    return new HttpError(
      'rate_limited',
      `Decisions on ${clientCustomerRef} come faster than one a second: its events are already stamped ` +
        `${MAX_STAMP_AHEAD_MS / 1000} s ahead of the clock. Decide again in ${result.retryAfterSeconds} s.`,
      { retry_after_seconds: result.retryAfterSeconds },
    );
  }
  if (result.outcome === 'not_found') {
    return new HttpError(
      'not_found',
      `No third party customer ${clientCustomerRef} for customer ${customerId}`,
    );
  }
  return {
    third_party: toThirdPartyCustomerView(result.thirdParty),
    event: result.outcome === 'changed' ? toEventView(result.event) : null,
  };
}

type BatchDecision = z.output<typeof batchDecisionSchema>;
type BatchResult = z.input<typeof batchResultSchema>;

function toRequest({
  customer_id,
  client_customer_ref,
  ...decision
}: BatchDecision): ComplianceDecisionRequest {
  return { customerId: customer_id, clientCustomerRef: client_customer_ref, decision };
}

/** Decision `index`'s result: the single route's answer, or its error, with the status it would have. */
function resultOf(index: number, answer: z.input<typeof decisionResultSchema> | HttpError): BatchResult {
  if (!(answer instanceof HttpError)) return { index, status: 200, ...answer };
  return { index, status: answer.status as 404 | 429, ...answer.toBody() };
}

/** A problem of decision `index` checked alone (`$.status`), as a path in the whole body. */
const inBatch = (index: number, p: Problem): Problem => ({
  path: `$.decisions[${index}]${p.path.slice(1)}`,
  message: p.message,
});

/**
 * `POST /api/v1/admin/customers/{customer_id}/third-parties/{client_customer_ref}/decision` and
 * `POST /api/v1/admin/decisions`.
 */
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
      const answer = answerOf(result, { customerId, clientCustomerRef });
      if (answer instanceof HttpError) throw answer;
      return answer;
    },
  );

  app.post(
    '/api/v1/admin/decisions',
    {
      bodyLimit: BATCH_BODY_LIMIT,
      schema: {
        operationId: 'recordComplianceDecisions',
        summary: 'Record up to 1,000 compliance decisions in one request, each with its own result',
        description: `For compliance systems that decide in bulk. Each decision is checked and recorded as the single decision route would (same rules, same answers), one after another in the order given: two decisions on one third party emit their events in that order, a second apart when they fall in the same second. The answer is 200 whenever the request itself is well formed, with one result per decision, in order: \`status\` 200 with the third party and the event emitted (null: the status did not change), or 400 (that decision is invalid: \`validation_failed\` with its problems), 404 (no such third party) or 429 (decisions on that third party run a minute ahead of the clock), with \`error\` as everywhere else. An invalid or refused decision does not stop the others. The decisions are written in one transaction: if the database fails, none is recorded, and the answer is the error. More than 1,000 decisions, or a body over 4 MiB, answers 413. Sending the same batch again is safe: decisions that already hold answer with \`event: null\` and emit nothing (a batch that decides one third party back and forth emits those events again, and ends in the same status).`,
        tags: ['operator'],
        security: ADMIN_SECURITY,
        body: batchBodySchema,
        response: {
          200: jsonAnswer('One result per decision, in the order of the request', batchResultsSchema),
          ...errorResponses(400, 401, 413, 415),
        },
      },
    },
    async (request) => {
      const items = request.body.decisions;
      if (items.length > MAX_BATCH_DECISIONS) {
        throw new HttpError(
          'payload_too_large',
          `A batch holds at most 1,000 decisions; this one has ${items.length.toLocaleString('en-US')}. Send the rest in another request.`,
        );
      }
      const checked = items.map((item) => parseRequestPart(batchDecisionSchema, item));
      const requests = checked.map((c) => (c.ok ? toRequest(c.value as BatchDecision) : undefined));
      const recorded = await recordComplianceDecisions(
        store,
        requests.filter((r) => r !== undefined),
      );
      let next = 0;
      const results = checked.map((c, index): BatchResult => {
        if (c.ok) {
          const request = requests[index] as ComplianceDecisionRequest;
          return resultOf(index, answerOf(recorded[next++] as ComplianceDecisionResult, request));
        }
        const error = new HttpError('validation_failed', `Decision ${index} is invalid`, {
          in: 'body',
          problems: c.problems.map((p) => inBatch(index, p)),
        });
        return { index, status: 400, ...error.toBody() };
      });
      return { results };
    },
  );
};
