/**
 * The request and response shapes of third-party customers, with the compliance rules attached to
 * each field so that a bad submission answers every problem with its path at once.
 */
import { z } from 'zod';
import {
  ADULT_AGE,
  ageOn,
  currencyDigits,
  decimalPlaces,
  isCountryAlpha3,
  isCurrencyCode,
  isValidE164Phone,
  MAX_AGE,
  parseCalendarDate,
} from './rules.js';

// Control characters have no place in a name or an address and are a classic log-injection vector.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A required line of free text: trimmed, non-empty, at most `max` characters, no control characters. */
function text(max: number) {
  return z
    .string()
    .trim()
    .min(1, 'Must not be empty')
    .max(max, `Must be at most ${max} characters`)
    .refine((s) => !CONTROL_CHARS.test(s), 'Must not contain control characters');
}

/** A partner's own name for a third-party customer: letters, digits, `_` and `-`. */
export const clientCustomerRefSchema = z
  .string()
  .min(1, 'Must not be empty')
  .max(64, 'Must be at most 64 characters')
  .regex(/^[A-Za-z0-9_-]+$/, 'Use only letters, digits, "_" and "-"')
  .meta({
    description: "The partner's reference for this customer, unique within the partner",
    example: 'CUST_001',
  });

const countrySchema = z
  .string()
  .refine(isCountryAlpha3, 'Must be an ISO 3166-1 alpha-3 country code in upper case, e.g. "USA"')
  .meta({ description: 'ISO 3166-1 alpha-3', example: 'USA' });

const currencySchema = z
  .string()
  .refine(isCurrencyCode, 'Must be an ISO 4217 currency code in upper case, e.g. "USD"')
  .meta({ description: 'ISO 4217', example: 'USD' });

const MAX_AMOUNT = 1e13;
const amountSchema = (min: 'positive' | 'nonnegative') =>
  (min === 'positive'
    ? z.number().positive('Must be greater than 0')
    : z.number().nonnegative('Must not be negative')
  )
    .max(MAX_AMOUNT, `Must be at most ${MAX_AMOUNT}`)
    .refine(Number.isFinite, 'Must be a finite number');

const dateOfBirthSchema = z
  .string()
  .refine((s) => parseCalendarDate(s) !== undefined, 'Must be a real date written YYYY-MM-DD')
  .refine((s) => {
    const born = parseCalendarDate(s);
    return born === undefined || ageOn(born, new Date()) >= ADULT_AGE;
  }, `The customer must be at least ${ADULT_AGE} years old`)
  .refine((s) => {
    const born = parseCalendarDate(s);
    return born === undefined || ageOn(born, new Date()) <= MAX_AGE;
  }, `Must be within the last ${MAX_AGE} years`)
  .meta({ description: 'YYYY-MM-DD; the customer must be an adult', example: '1985-04-12' });

/** An address; `state` is optional because many countries have none. */
export const addressSchema = z.strictObject({
  address_line: text(200),
  city: text(100),
  state: text(100).optional(),
  post_code: z
    .string()
    .trim()
    .min(1, 'Must not be empty')
    .max(16, 'Must be at most 16 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9 -]*$/, 'Use only letters, digits, spaces and "-"'),
  country: countrySchema,
});

/** Yearly income band; `min_value` ≤ `max_value`, in one currency. */
export const incomeRangeSchema = z
  .strictObject({
    currency: currencySchema,
    min_value: amountSchema('nonnegative'),
    max_value: amountSchema('positive'),
  })
  .refine((r) => r.min_value <= r.max_value, {
    message: 'min_value must not be greater than max_value',
    path: ['min_value'],
  });

/** A money amount with no more decimals than its currency has minor units. */
export const moneySchema = z
  .strictObject({ currency: currencySchema, value: amountSchema('positive') })
  .refine((m) => decimalPlaces(m.value) <= currencyDigits(m.currency), {
    message: 'Has more decimals than the currency allows',
    path: ['value'],
  });

/** Who the third-party customer is: the compliance profile. */
export const clientCustomerDetailsSchema = z
  .strictObject({
    client_customer_ref: clientCustomerRefSchema,
    first_name: text(100),
    last_name: text(100),
    // the message only for a malformed address: a missing one or a number is worded by the API
    email: z
      .email({ error: (iss) => (iss.code === 'invalid_format' ? 'Must be an email address' : undefined) })
      .max(254, 'Must be at most 254 characters'),
    mobile_phone: z
      .string()
      .refine(isValidE164Phone, 'Must be a valid phone number in E.164 format, e.g. "+14155552671"')
      .meta({ description: 'E.164', example: '+14155552671' }),
    country: countrySchema,
    date_of_birth: dateOfBirthSchema,
    address: addressSchema,
    currency: currencySchema,
    occupation: text(100),
    employer_name: text(200).optional(),
    income_range: incomeRangeSchema,
  })
  .meta({ id: 'ClientCustomerDetails' });

/** One property the customer is paying for. */
export const propertyDetailSchema = z
  .strictObject({
    property_ref: text(64),
    unit_number: text(32).optional(),
    building_name: text(200).optional(),
    project_name: text(200).optional(),
    property_purchase_amount: moneySchema,
  })
  .meta({ id: 'PropertyDetail' });

/** `POST /api/v1/customers/{customer_id}/third-parties`. */
export const newThirdPartyCustomerSchema = z
  .strictObject({
    client_customer_details: clientCustomerDetailsSchema,
    property_details: z
      .array(propertyDetailSchema)
      .min(1, 'Give at least one property')
      .max(100, 'At most 100 properties')
      .superRefine((properties, ctx) => {
        const seen = new Set<string>();
        properties.forEach((p, i) => {
          if (seen.has(p.property_ref)) {
            ctx.addIssue({ code: 'custom', message: 'Duplicate property_ref', path: [i, 'property_ref'] });
          }
          seen.add(p.property_ref);
        });
      }),
  })
  .meta({ id: 'NewThirdPartyCustomer' });

export type NewThirdPartyCustomerRequest = z.output<typeof newThirdPartyCustomerSchema>;

export const thirdPartyStatusSchema = z.enum(['PENDING', 'APPROVED', 'REJECTED']);

/** A compliance reason: machine-readable code and a sentence for humans. */
export const reasonSchema = z
  .strictObject({
    code: z
      .string()
      .min(1, 'Must not be empty')
      .max(64, 'Must be at most 64 characters')
      .regex(/^[A-Z0-9_]+$/, 'Use upper-case letters, digits and "_"'),
    reason: text(500),
  })
  .meta({ id: 'Reason', example: { code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' } });

/**
 * `POST …/decision`: APPROVED takes no reasons (the contract never sends reasons with APPROVED, and
 * silently dropping them would hide a mistake); REJECTED needs one or more. A union on `status`, so
 * the published schema says exactly what this validator accepts (`oneOf`, one branch per status).
 */
export const complianceDecisionSchema = z
  .discriminatedUnion(
    'status',
    [
      z.strictObject({
        status: z.literal('APPROVED'),
        reasons: z
          .never({ error: 'APPROVED takes no reasons' })
          .optional()
          .meta({ description: 'Never present: reasons only explain a rejection' }),
      }),
      z.strictObject({
        status: z.literal('REJECTED'),
        reasons: z
          .array(reasonSchema, {
            error: (iss) => (iss.input === undefined ? 'REJECTED needs one or more reasons' : undefined),
          })
          .min(1, 'REJECTED needs one or more reasons')
          .max(20, 'At most 20 reasons'),
      }),
    ],
    { error: (iss) => (iss.code === 'invalid_union' ? 'Must be "APPROVED" or "REJECTED"' : undefined) },
  )
  .meta({
    id: 'ComplianceDecision',
    description: 'The verdict: `{"status": "APPROVED"}`, or `{"status": "REJECTED", "reasons": [...]}`.',
  });

/*
 * What the API shows of a stored third party: the submission as it was accepted (trimmed). The
 * document gives its shape field by field; the answer is serialized as stored, without checking the
 * submission's rules again (an age limit, say, holds on the day of submission, not forever).
 */
const storedAddressSchema = z.object({
  address_line: z.string(),
  city: z.string(),
  state: z.string().optional(),
  post_code: z.string(),
  country: z.string().meta({ description: 'ISO 3166-1 alpha-3' }),
});

const storedClientCustomerDetailsSchema = z.object({
  client_customer_ref: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  email: z.string(),
  mobile_phone: z.string().meta({ description: 'E.164' }),
  country: z.string().meta({ description: 'ISO 3166-1 alpha-3' }),
  date_of_birth: z.string().meta({ description: 'YYYY-MM-DD' }),
  address: storedAddressSchema,
  currency: z.string().meta({ description: 'ISO 4217' }),
  occupation: z.string(),
  employer_name: z.string().optional(),
  income_range: z.object({ currency: z.string(), min_value: z.number(), max_value: z.number() }),
});

const storedPropertyDetailSchema = z.object({
  property_ref: z.string(),
  unit_number: z.string().optional(),
  building_name: z.string().optional(),
  project_name: z.string().optional(),
  property_purchase_amount: z.object({ currency: z.string(), value: z.number() }),
});

/**
 * A stored JSON object, published with the shape of `typed`: zod puts the keys of `.meta()` over the
 * schema it generates (as the contract does for `if`/`then`), so the document is exact while the
 * serializer passes the stored object through.
 */
function storedAs(id: string, description: string, typed: z.ZodType) {
  const { $schema: _dialect, ...shape } = z.toJSONSchema(typed, { target: 'draft-2020-12', io: 'output' });
  return z.record(z.string(), z.unknown()).meta({ ...shape, id, description });
}

/** A third-party customer as the API shows it. */
export const thirdPartyCustomerViewSchema = z
  .object({
    customer_id: z.string(),
    client_customer_ref: z.string(),
    status: thirdPartyStatusSchema,
    reasons: z
      .array(z.object({ code: z.string(), reason: z.string() }))
      .optional()
      .meta({ description: 'Present when the status is REJECTED' }),
    client_customer_details: storedAs(
      'StoredClientCustomerDetails',
      'As submitted (see ClientCustomerDetails)',
      storedClientCustomerDetailsSchema,
    ),
    property_details: z.array(
      storedAs('StoredPropertyDetail', 'As submitted (see PropertyDetail)', storedPropertyDetailSchema),
    ),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'ThirdPartyCustomer' });

export type ThirdPartyCustomerView = z.output<typeof thirdPartyCustomerViewSchema>;

/**
 * Query of `GET …/third-parties`. `cursor` (keyset: a third party submitted meanwhile never shifts a
 * page) is the way to page; `page` (by offset) is kept for the clients that already use it. Both at
 * once is refused.
 */
export const listThirdPartiesQuerySchema = z
  .strictObject({
    status: thirdPartyStatusSchema.optional(),
    cursor: z.string().min(1).max(500).optional().meta({
      description:
        'Preferred: `next_cursor` of the previous page, passed back unchanged (with the same `status`). Not with `page`.',
    }),
    page: z.coerce.number().int().min(1).max(1_000_000).optional().meta({
      description:
        'Kept for compatibility (default 1 when there is no `cursor`): a page by offset, which shifts when third parties are submitted meanwhile; prefer `cursor`. Not with `cursor`.',
    }),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .superRefine((q, ctx) => {
    if (q.cursor !== undefined && q.page !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          'Give cursor or page, not both: cursor continues from next_cursor, page counts from the start',
        path: ['page'],
      });
    }
  });

export const thirdPartyListSchema = z.object({
  third_parties: z.array(thirdPartyCustomerViewSchema),
  next_cursor: z.string().nullable().meta({
    description: 'Pass back as `cursor` for the next (older) page; null on the last page',
  }),
  meta: z
    .object({
      page: z.number().int(),
      limit: z.number().int(),
      total_records: z.number().int(),
      total_pages: z.number().int(),
    })
    .optional()
    .meta({
      description: 'Paging by `page` (also when neither `page` nor `cursor` is given); absent with `cursor`',
    }),
});
