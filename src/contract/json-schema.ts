/**
 * The event's JSON Schema (draft 2020-12), generated from the zod schema.
 */
import { z } from 'zod';
import { fixtures } from './fixtures.gen.js';
import { thirdPartyCustomerStatusEventSchema } from './schema.js';

/** What JSON Schema cannot say, so that readers of the schema file know the validator does more. */
const LIMITS =
  'JSON Schema cannot express every rule; the validator in src/contract also refuses: a timestamp that matches the pattern but does not exist (2025-02-30), duplicate keys and "__proto__" keys at any depth, and bodies that are not UTF-8.';

function buildEventJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(thirdPartyCustomerStatusEventSchema, {
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
  const { $schema, title, description, ...rest } = generated;
  return {
    $schema,
    $comment:
      'Generated from src/contract/schema.ts by scripts/generate.ts. DO NOT EDIT: change the schema, then run npm run generate.',
    title,
    description: `${String(description)} ${LIMITS}`,
    ...rest,
    examples: [fixtures.payload, fixtures.rejected, fixtures.approved].map(
      (text) => JSON.parse(text) as unknown,
    ),
  };
}

/**
 * The JSON Schema (draft 2020-12) of the event, as written to
 * `schema/third-party-customer-status.v1.schema.json`.
 *
 * @example
 * import Ajv2020 from 'ajv/dist/2020.js';
 * const validate = new Ajv2020().compile(eventJsonSchema);
 */
export const eventJsonSchema: Record<string, unknown> = buildEventJsonSchema();
