/**
 * The generated JSON Schema, checked with Ajv (draft 2020-12). Ajv is not a direct dependency of
 * the project; it comes with Fastify.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildEvent, eventJsonSchema, fixtures, parseEvent } from '../../src/contract/index.js';
import { scanJson } from '../../src/contract/strict-json.js';
import { invalidCorpus } from './invalid-corpus.js';

// strictRequired would refuse `then: {not: {required: ['reasons']}}`, standard JSON Schema that
// Ajv's extra strictness flags only because `reasons` is declared in the parent, not in `not`.
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, validateFormats: false });
const validate = ajv.compile(eventJsonSchema);

function plainJson(body: string | Uint8Array): unknown {
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  return JSON.parse(text);
}

/** Corpus cases that are well-formed JSON without duplicate keys: what JSON Schema can judge. */
const judgeable = invalidCorpus.filter((c) => {
  if (c.jsonSchema === 'cannot' || typeof c.body !== 'string') return false;
  const scan = scanJson(c.body);
  return c.body.trim() !== '' && scan.syntaxError === undefined && scan.keyProblems.length === 0;
});

describe('generated JSON Schema', () => {
  it('is draft 2020-12 with a do-not-edit note', () => {
    expect(eventJsonSchema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(eventJsonSchema.$comment).toContain('DO NOT EDIT');
    expect(JSON.stringify(eventJsonSchema)).not.toContain('$ref');
  });

  it('says what it cannot check', () => {
    expect(String(eventJsonSchema.description)).toContain('2025-02-30');
    expect(JSON.stringify(eventJsonSchema)).toContain('JSON Schema cannot check that the day exists');
  });

  it.each(Object.keys(fixtures))('accepts the fixture %s', (name) => {
    expect(validate(JSON.parse(fixtures[name as keyof typeof fixtures]))).toBe(true);
  });

  it('accepts unknown fields and v1 minors, like the validator', () => {
    const event = JSON.parse(fixtures.rejected);
    event.version = 'v1.7.0';
    event.extra = { any: ['thing'] };
    event.data.reasons[0].more = 1;
    expect(validate(event)).toBe(true);
  });

  it('judges the invalid corpus like the validator, wherever JSON Schema can', () => {
    expect(judgeable.length).toBeGreaterThan(50);
    const acceptedBySchema = judgeable.filter((c) => validate(plainJson(c.body))).map((c) => c.name);
    expect(acceptedBySchema).toEqual([]);
  });

  it('accepts impossible dates, which only the validator refuses (documented)', () => {
    const calendar = invalidCorpus.filter((c) => c.jsonSchema === 'cannot' && c.path === '$.event_timestamp');
    expect(calendar.length).toBeGreaterThan(2);
    for (const c of calendar) {
      expect(validate(plainJson(c.body))).toBe(true);
      expect(parseEvent(c.body).ok).toBe(false);
    }
  });

  it('property: accepts everything the builder makes', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
        fc.boolean(),
        (customerId, clientCustomerRef, approved) => {
          const { json } = buildEvent(
            approved
              ? { customerId, clientCustomerRef, status: 'APPROVED' }
              : { customerId, clientCustomerRef, status: 'REJECTED', reasons: [{ code: 'C', reason: 'R' }] },
          );
          expect(validate(JSON.parse(json))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
