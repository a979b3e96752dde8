/**
 * The "Third Party Customer Status Updated Event" contract: one zod schema and everything derived
 * from it: types, the receiver's parser, the sender's builder, JSON Schema, OpenAPI and fixtures.
 *
 * @example
 * import { parseEvent, buildEvent } from 'tpcs/contract';
 * const { json } = buildEvent({ customerId: '0201001008132685', clientCustomerRef: 'CUST_001', status: 'APPROVED' });
 * parseEvent(json).ok; // true
 */
export { jsonPath, type Problem } from '../errors/index.js';
export { type BuildInput, type BuiltEvent, buildEvent, ContractError } from './build.js';
export { fixtures } from './fixtures.gen.js';
export { eventJsonSchema } from './json-schema.js';
export {
  buildOpenApiDocument,
  INVALID_PAYLOAD_CODE,
  invalidPayloadBody,
  invalidPayloadBodySchema,
  openApiWebhooks,
  WEBHOOK_NAME,
} from './openapi.js';
export { type ParseResult, parseEvent, validateEvent } from './parse.js';
export { MAX_PROBLEMS, problemAt } from './problems.js';
export {
  CONTRACT_VERSION,
  CUSTOMER_STATUSES,
  type CustomerStatus,
  customerStatusDataSchema,
  EVENT_TYPE,
  ORDER_RULE,
  type Reason,
  reasonSchema,
  SUPPORTED_MAJOR_VERSIONS,
  type ThirdPartyCustomerStatusEvent,
  thirdPartyCustomerStatusEventSchema,
  unsupportedMajorVersion,
} from './schema.js';
export {
  EVENT_TIMESTAMP_PATTERN,
  eventTimestampProblem,
  formatEventTimestamp,
  isEventTimestamp,
  parseEventTimestamp,
} from './timestamp.js';
