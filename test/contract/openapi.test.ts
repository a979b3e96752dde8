import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import {
  buildEvent,
  buildOpenApiDocument,
  eventJsonSchema,
  fixtures,
  invalidPayloadBody,
  invalidPayloadBodySchema,
  openApiWebhooks,
  parseEvent,
  WEBHOOK_NAME,
} from '../../src/contract/index.js';
import { createMemoryInbox, createReceiver } from '../../src/receiver/index.js';
import { generateSecret, signWebhook } from '../../src/signing/index.js';

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

const QUIET = { info() {}, warn() {}, error() {} };

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

  it('answers 200 "Webhook received successfully", 400 "Invalid payload" with the problems body, and 401', () => {
    const responses = post().responses;
    expect(Object.keys(responses)).toEqual(['200', '400', '401']);
    expect(responses['200']?.description).toBe('Webhook received successfully');
    expect(responses['400']?.description).toBe('Invalid payload');
    const example = responses['400']?.content?.['application/json']?.example;
    expect(invalidPayloadBodySchema.parse(example)).toEqual(example);
    expect(JSON.stringify(responses['400']?.content?.['application/json']?.schema)).toContain(
      '"invalid_payload"',
    );
  });

  it("documents the kit's 401 for a bad signature, with every reason it gives", async () => {
    const unauthorized = post().responses['401'];
    expect(unauthorized?.description).toMatch(/^Invalid signature/);
    const media = unauthorized?.content?.['application/json'];
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    const check = ajv.compile(media?.schema as object);
    expect(check(media?.example)).toBe(true);
    // what the kit answers to a request signed with another secret
    const receiver = createReceiver({
      secrets: [generateSecret()],
      inbox: createMemoryInbox(),
      logger: QUIET,
    });
    const { event, json } = buildEvent({ customerId: 'C1', clientCustomerRef: 'R1', status: 'APPROVED' });
    const signed = signWebhook({
      id: event.event_id,
      timestamp: Math.floor(Date.now() / 1000),
      body: json,
      secrets: [generateSecret()],
    });
    const headers = { ...signed, 'content-type': 'application/json' };
    const answer = await receiver.handle({ method: 'POST', headers, body: new TextEncoder().encode(json) });
    await receiver.close();
    expect(answer.status).toBe(401);
    expect(check(JSON.parse(answer.body)), JSON.stringify(check.errors)).toBe(true);
    expect(
      check({ error: { code: 'invalid_signature', message: 'x', details: { reason: 'made_up' } } }),
    ).toBe(false);
  });

  it('declares no security scheme: the signature headers are the authentication', () => {
    expect((post() as Operation & { security?: unknown }).security).toEqual([]);
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
