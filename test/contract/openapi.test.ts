import { describe, expect, it } from 'vitest';
import {
  buildOpenApiDocument,
  eventJsonSchema,
  fixtures,
  invalidPayloadBody,
  invalidPayloadBodySchema,
  openApiWebhooks,
  parseEvent,
  WEBHOOK_NAME,
} from '../../src/contract/index.js';

interface Operation {
  parameters: { name: string; in: string; required: boolean; description: string }[];
  requestBody: {
    required: boolean;
    content: Record<
      string,
      { schema: Record<string, unknown>; examples: Record<string, { value: unknown }> }
    >;
  };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema: unknown; example: unknown }> }
  >;
}

function post(): Operation {
  const webhooks = openApiWebhooks() as Record<string, { post: Operation }>;
  const entry = webhooks[WEBHOOK_NAME];
  if (entry === undefined) throw new Error(`no webhooks.${WEBHOOK_NAME}`);
  return entry.post;
}

/** Every `$ref` value anywhere inside a JSON value. */
function refs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refs);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [v] : refs(v)));
}

describe('OpenAPI webhooks', () => {
  it('is self-contained: no $ref at all, so it can be merged into another document', () => {
    expect(refs(openApiWebhooks())).toEqual([]);
  });

  it('returns a fresh copy each time', () => {
    const first = openApiWebhooks();
    delete first[WEBHOOK_NAME];
    expect(openApiWebhooks()).toHaveProperty(WEBHOOK_NAME);
  });

  it('requires and describes the three Standard Webhooks headers', () => {
    const parameters = post().parameters;
    expect(parameters.map((p) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    for (const p of parameters) {
      expect(p.in).toBe('header');
      expect(p.required).toBe(true);
      expect(p.description.length).toBeGreaterThan(40);
    }
  });

  it('describes the body with the event schema and the three seed examples, all valid', () => {
    const body = post().requestBody;
    expect(body.required).toBe(true);
    const media = body.content['application/json'];
    expect(media?.schema.properties).toEqual(eventJsonSchema.properties);
    const examples = Object.values(media?.examples ?? {}).map((e) => e.value);
    expect(examples).toEqual(
      [fixtures.payload, fixtures.rejected, fixtures.approved].map((t) => JSON.parse(t)),
    );
    for (const example of examples) expect(parseEvent(JSON.stringify(example)).ok).toBe(true);
  });

  it('answers 200 "Webhook received successfully" and 400 "Invalid payload" with the problems body', () => {
    const responses = post().responses;
    expect(Object.keys(responses)).toEqual(['200', '400']);
    expect(responses['200']?.description).toBe('Webhook received successfully');
    expect(responses['400']?.description).toBe('Invalid payload');
    const example = responses['400']?.content?.['application/json']?.example;
    expect(invalidPayloadBodySchema.parse(example)).toEqual(example);
    expect(JSON.stringify(responses['400']?.content?.['application/json']?.schema)).toContain(
      '"invalid_payload"',
    );
  });

  it('builds the 400 body from parse problems', () => {
    const result = parseEvent('[]');
    if (result.ok) throw new Error('accepted []');
    const body = invalidPayloadBody(result.problems);
    expect(body).toEqual({
      error: {
        code: 'invalid_payload',
        message: expect.stringContaining('must be a JSON object'),
        details: { problems: result.problems },
      },
    });
  });

  it('the full document is OpenAPI 3.1 with that webhooks section and a do-not-edit note', () => {
    const doc = buildOpenApiDocument();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc).toHaveProperty('info.version', 'v1.0.0');
    expect(doc['x-generated']).toContain('DO NOT EDIT');
    expect(doc.webhooks).toEqual(openApiWebhooks());
  });
});
