/**
 * `tpcs/client`: a typed client for the service's HTTP API. The types come from the OpenAPI document
 * the service serves (`GET /openapi.json`, committed as openapi/api.openapi.json), generated into
 * api.gen.ts by openapi-typescript; the calls are openapi-fetch's. Paths, parameters, bodies, answers
 * and error bodies are all checked by the compiler.
 *
 * Runtime-agnostic: only `fetch`, `Request` and `Headers`, so it runs in Node 20+, browsers and edge
 * runtimes alike.
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from './api.gen.js';

export type { components, operations, paths, webhooks } from './api.gen.js';

type Schemas = components['schemas'];

/** A partner's webhook endpoint, as listed and read (its signing secret is not in it). */
export type Endpoint = Schemas['WebhookEndpoint'];
/** A webhook endpoint with its signing secret (`whsec_…`): the answer to creating one or rotating its secret. */
export type EndpointWithSecret = Schemas['WebhookEndpointWithSecret'];
/** A third-party customer as submitted by a partner. */
export type NewThirdPartyCustomer = Schemas['NewThirdPartyCustomer'];
/** A third-party customer with its compliance status (PENDING until the operator decides). */
export type ThirdPartyCustomer = Schemas['ThirdPartyCustomer'];
/** The operator's verdict: APPROVED, or REJECTED with reasons. */
export type ComplianceDecision = Schemas['ComplianceDecision'];
/** The `THIRD PARTY CUSTOMER STATUS` event, as delivered to webhook endpoints and listed by the API. */
export type Event = Schemas['Event'];
/** One event's delivery to one endpoint, with its attempts. */
export type Delivery = Schemas['Delivery'];
/** A partner's bearer token (`tpcs_pk_…`), shown only when created or reset. */
export type PartnerToken = Schemas['PartnerToken'];
/** Every answer that is not a success: `{error: {code, message, details?}}`. */
export type ApiError = Schemas['Error'];
/** The stable, machine-readable code of an {@link ApiError}; each has one HTTP status. */
export type ApiErrorCode = ApiError['error']['code'];

/** The openapi-fetch client of this API: `GET`, `POST`, `PATCH`, `DELETE`… by path, typed from it. */
export type TpcsClient = Client<paths>;

export interface TpcsClientOptions {
  /** Where the service is, e.g. `https://tpcs.example` (the paths start with `/api/v1/…`). */
  baseUrl: string;
  /** A partner token (`tpcs_pk_…`) or the operator token, sent as `Authorization: Bearer …`. */
  token?: string | undefined;
  /** The `fetch` to call; default the runtime's own (`globalThis.fetch`). */
  fetch?: ((request: Request) => Promise<Response>) | undefined;
  /** Headers sent with every request. */
  headers?: Record<string, string> | undefined;
}

/**
 * Makes a client of the service's API. Each call answers `{data, response}` on a success and `{error,
 * response}` on a refusal (the error body, typed: branch on `error.error.code`); it throws only when
 * no answer came (the network, an abort).
 *
 * @example
 * import { createTpcsClient } from 'tpcs/client';
 *
 * const tpcs = createTpcsClient({ baseUrl: 'http://localhost:8080', token: process.env.TPCS_TOKEN });
 * const { data, error } = await tpcs.GET('/api/v1/customers/{customer_id}/events', {
 *   params: { path: { customer_id: '0201001008132685' }, query: { limit: 10 } },
 * });
 * if (error) console.error(error.error.code, error.error.message);
 * else for (const event of data.events) console.log(event.event_id, event.data.status);
 */
export function createTpcsClient(options: TpcsClientOptions): TpcsClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
  });
  if (options.token !== undefined) client.use(bearerToken(options.token));
  return client;
}

/** Sets `Authorization: Bearer <token>` on every request. */
function bearerToken(token: string): Middleware {
  return {
    onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
  };
}
