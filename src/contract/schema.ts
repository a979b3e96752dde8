/**
 * The event schema: the single source of truth for the event's TypeScript type, the validator,
 * the builder's checks, the JSON Schema and the OpenAPI description.
 *
 * Custom messages here are predicates ("must not be empty"); `issues.ts` puts the field name in
 * front. JSON Schema keywords that zod cannot derive from a refinement (`if`/`then`) sit in `.meta()`
 * beside the refinement they mirror, so the two cannot drift apart unnoticed.
 */
import { z } from 'zod';
import { quote } from './problems.js';
import { EVENT_TIMESTAMP_PATTERN, eventTimestampProblem } from './timestamp.js';

/**
 * The only event type this contract describes.
 *
 * @example
 * if (event.event_type === EVENT_TYPE) { … }
 */
export const EVENT_TYPE = 'THIRD PARTY CUSTOMER STATUS';

/**
 * The version the builder stamps on every event. Receivers accept any `v1.x.y`.
 *
 * @example
 * buildEvent({ … }).event.version === CONTRACT_VERSION; // true
 */
export const CONTRACT_VERSION = 'v1.0.0';

/** Major versions a receiver understands. Minor versions may only add fields, which are kept. */
export const SUPPORTED_MAJOR_VERSIONS: readonly number[] = [1];

/**
 * The two compliance outcomes an event can carry.
 *
 * @example
 * CUSTOMER_STATUSES.includes('APPROVED'); // true
 */
export const CUSTOMER_STATUSES = ['APPROVED', 'REJECTED'] as const;

/**
 * A compliance outcome.
 *
 * @example
 * const status: CustomerStatus = 'REJECTED';
 */
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];

/**
 * Why a customer was rejected: a machine-readable code and a human-readable reason.
 *
 * @example
 * const r: Reason = { code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed due to validation or regulatory issues' };
 */
export interface Reason {
  code: string;
  reason: string;
}

/** `v<major>.<minor>.<patch>`, semver numbers without leading zeros. */
const VERSION_SHAPE = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
const SUPPORTED_VERSION = /^v1\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)$/;

/**
 * The major version of a well-formed `version` that this contract does not support, if it is one.
 * A payload of another major follows a contract we do not know, so the validator reports only this.
 *
 * @example
 * unsupportedMajorVersion('v2.0.0'); // 2
 * unsupportedMajorVersion('v1.4.0'); // undefined
 * unsupportedMajorVersion('1.0'); // undefined (malformed, not another major)
 */
export function unsupportedMajorVersion(version: unknown): number | undefined {
  if (typeof version !== 'string') return undefined;
  const match = VERSION_SHAPE.exec(version);
  if (match === null) return undefined;
  const major = Number(match[1]);
  return SUPPORTED_MAJOR_VERSIONS.includes(major) ? undefined : major;
}

const supportedMajors = SUPPORTED_MAJOR_VERSIONS.map((m) => `v${m}.x.y`).join(', ');

function versionMessage(input: unknown): string {
  const value = String(input);
  const major = unsupportedMajorVersion(value);
  if (major !== undefined) {
    return `is ${quote(value)}, major version ${major}, which this receiver does not support; supported major versions: ${supportedMajors}`;
  }
  return `must be a version like "v1.0.0" (supported major versions: ${supportedMajors}), but is ${quote(value)}`;
}

/**
 * Visible ASCII except ".". The id travels as the Standard Webhooks `webhook-id` header, which must
 * be a plain header value, and is signed as `id.timestamp.body`, where "." is the separator.
 */
const EVENT_ID_PATTERN = /^[\x21-\x2D\x2F-\x7E]+$/;

function eventIdMessage(input: unknown): string {
  const value = String(input);
  if (value === '') return 'must not be empty';
  if (value.includes('.')) {
    return `must not contain "." (Standard Webhooks signs "id.timestamp.body", using "." as the separator), but is ${quote(value)}`;
  }
  return `must contain only visible ASCII characters, no spaces (it is sent as the webhook-id header), but is ${quote(value)}`;
}

const CLIENT_CUSTOMER_REF_PATTERN = /^[A-Za-z0-9_-]+$/;

function clientCustomerRefMessage(input: unknown): string {
  const value = String(input);
  if (value === '') return 'must not be empty';
  return `must contain only letters, digits, "_" and "-", but is ${quote(value)}`;
}

const nonEmptyString = () => z.string().min(1);

/**
 * One entry of `data.reasons`. Extra fields are accepted and kept (minor versions may add some).
 *
 * @example
 * reasonSchema.parse({ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' });
 */
export const reasonSchema = z
  .looseObject({
    code: nonEmptyString().meta({
      description: 'Machine-readable reason code, e.g. "COMPLIANCE_CHECK_FAILED".',
    }),
    reason: nonEmptyString().meta({ description: 'Human-readable description of the reason.' }),
  })
  .meta({ description: 'Why the customer was rejected.' });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The event's `data` object.
 *
 * @example
 * customerStatusDataSchema.parse({ customer_id: '0201001008132685', client_customer_ref: 'CUST_001', status: 'APPROVED' });
 */
export const customerStatusDataSchema = z
  .looseObject({
    customer_id: nonEmptyString().meta({
      description: 'The partner\'s customer id on the platform, e.g. "0201001008132685".',
    }),
    client_customer_ref: z
      .string()
      .regex(CLIENT_CUSTOMER_REF_PATTERN, { error: (iss) => clientCustomerRefMessage(iss.input) })
      .meta({
        description:
          'The partner\'s own reference for the third-party customer (letters, digits, "_" and "-"), e.g. "CUST_001".',
      }),
    status: z.enum(CUSTOMER_STATUSES).meta({ description: 'The compliance outcome.' }),
    reasons: z.array(reasonSchema).min(1).optional().meta({
      description:
        'Why the customer was rejected: at least one {code, reason}. The sender always includes it when status is REJECTED and never when APPROVED; receivers also accept a REJECTED event without it.',
    }),
  })
  // `when` makes this run even when other fields of `data` are wrong, so every problem is reported.
  .refine((data) => !(data.status === 'APPROVED' && data.reasons !== undefined), {
    path: ['reasons'],
    error: 'must not be present when data.status is "APPROVED" (reasons only explain a rejection)',
    when: (payload) =>
      isRecord(payload.value) && payload.value.status === 'APPROVED' && 'reasons' in payload.value,
  })
  .meta({
    description:
      'Business data for the third party customer status event. Contains customer and status information. The reasons field is only present when the status is REJECTED.',
    // Mirrors the refinement above for JSON Schema consumers.
    if: { properties: { status: { const: 'APPROVED' } }, required: ['status'] },
    // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword, never awaited.
    then: { not: { required: ['reasons'] } },
  });

/**
 * The order rule, in one sentence, for every document that describes the event. The platform stamps
 * a decision falling in the same second as the third party's previous event one second later.
 */
export const ORDER_RULE =
  'For one third party (`customer_id` and `client_customer_ref`), a later event always has a later `event_timestamp`; keep the newest (on an equal timestamp, which only other senders produce, the later arrival).';

/**
 * The whole event. Unknown fields anywhere are accepted and kept: minor versions may add fields.
 *
 * @example
 * const result = thirdPartyCustomerStatusEventSchema.safeParse(JSON.parse(fixtures.approved));
 */
export const thirdPartyCustomerStatusEventSchema = z
  .looseObject({
    event_id: z
      .string()
      .regex(EVENT_ID_PATTERN, { error: (iss) => eventIdMessage(iss.input) })
      .meta({
        description:
          'Unique identifier for the event; also the Standard Webhooks webhook-id header. Visible ASCII characters except ".". This platform sends UUIDv7, which sort by time.',
      }),
    event_type: z.literal(EVENT_TYPE).meta({
      description: `Type of webhook event. Always "${EVENT_TYPE}" for third party customer status events.`,
    }),
    version: z
      .string()
      .regex(SUPPORTED_VERSION, { error: (iss) => versionMessage(iss.input) })
      .meta({
        description: `Payload version. Currently "${CONTRACT_VERSION}". This enables controlled evolution of the webhook contract: receivers accept any ${supportedMajors} and keep fields they do not know.`,
      }),
    event_timestamp: z
      .string()
      // `abort` stops the calendar check from repeating a format problem.
      .regex(EVENT_TIMESTAMP_PATTERN, {
        error: (iss) => eventTimestampProblem(String(iss.input)) ?? 'is not a valid timestamp',
        abort: true,
      })
      .refine((value) => eventTimestampProblem(value) === undefined, {
        error: (iss) => eventTimestampProblem(String(iss.input)) ?? 'is not a valid timestamp',
      })
      .meta({
        format: 'date-time',
        description: `Timestamp of the event in ISO 8601 format (YYYY-MM-DDTHH:MM:SSZ), UTC, whole seconds. ${ORDER_RULE} It must be a real instant: the pattern checks field ranges, but JSON Schema cannot check that the day exists in that month (2025-02-30); the validator does.`,
      }),
    data: customerStatusDataSchema,
  })
  .meta({
    title: 'Third Party Customer Status Updated Event',
    description: `Sent when a third party customer's compliance status changes to APPROVED or REJECTED. Subscribe to the "${EVENT_TYPE}" event type to receive these updates. ${ORDER_RULE}`,
  });

/**
 * The event as a receiver holds it after validation, extra fields included.
 *
 * @example
 * function onEvent(event: ThirdPartyCustomerStatusEvent) { console.log(event.data.status); }
 */
export type ThirdPartyCustomerStatusEvent = z.output<typeof thirdPartyCustomerStatusEventSchema>;
