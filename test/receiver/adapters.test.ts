import http from 'node:http';
import express from 'express';
import fc from 'fast-check';
import Fastify from 'fastify';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createExpressMiddleware,
  createFetchHandler,
  createMemoryInbox,
  createNodeHandler,
  createReceiver,
  fastifyReceiver,
  type Receiver,
} from '../../src/receiver/index.js';
import { answer, recordingLogger, SECRET, signedHeaders, signedRequest } from './helpers.js';
import { fetchServer, listen, postEndlessBody } from './sockets.js';

const LIMIT = 4096;

type Started = { url: string; close: () => Promise<void> };

// Each adapter mounted the way a partner would, answering at `${url}/webhook`.
const ADAPTERS: [string, (receiver: Receiver) => Promise<Started>][] = [
  [
    'node http',
    async (receiver) => {
      const handler = createNodeHandler(receiver);
      const server = http.createServer((req, res) => {
        if (req.url === '/webhook') return handler(req, res);
        res.writeHead(404).end();
      });
      const { url, close } = await listen(server);
      return { url: `${url}/webhook`, close };
    },
  ],
  [
    'express',
    async (receiver) => {
      const app = express();
      app.use('/webhook', createExpressMiddleware(receiver));
      app.use(express.json()); // the rest of the app parses JSON as usual
      const { url, close } = await listen(http.createServer(app));
      return { url: `${url}/webhook`, close };
    },
  ],
  [
    'fastify',
    async (receiver) => {
      const app = Fastify();
      await app.register(fastifyReceiver, { receiver, path: '/webhook' });
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url: `${address}/webhook`, close: () => app.close() };
    },
  ],
  [
    'fetch',
    async (receiver) => {
      const { url, close } = await listen(fetchServer(createFetchHandler(receiver)));
      return { url: `${url}/webhook`, close };
    },
  ],
];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(adapter: (receiver: Receiver) => Promise<Started>) {
  const receiver = createReceiver({
    secrets: [SECRET],
    inbox: createMemoryInbox(),
    maxBodyBytes: LIMIT,
    logger: recordingLogger(),
  });
  cleanups.push(() => receiver.close());
  const started = await adapter(receiver);
  cleanups.push(started.close);
  return { receiver, url: started.url };
}

async function post(
  url: string,
  headers: Record<string, string>,
  body: string | Uint8Array,
  method = 'POST',
) {
  const response = await request(url, { method: method as 'POST', headers, body });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    json: answer(text),
  };
}

for (const [name, adapter] of ADAPTERS) {
  describe(`adapter: ${name}`, () => {
    it('200 for a signed event, handler gets it typed, a duplicate is 200 and handled once', async () => {
      const { receiver, url } = await start(adapter);
      const reasons: unknown[] = [];
      receiver.on('REJECTED', (event) => {
        reasons.push(event.data.reasons?.[0]?.code);
      });
      const signed = signedRequest({ status: 'REJECTED' });
      const first = await post(url, signed.headers, signed.body);
      const again = await post(url, signed.headers, signed.body);
      expect([first.status, again.status]).toEqual([200, 200]);
      expect([first.json.outcome, again.json.outcome]).toEqual(['recorded', 'duplicate']);
      expect(first.headers['content-type']).toMatch(/^application\/json/);
      await receiver.drain();
      expect(reasons).toEqual(['COMPLIANCE_CHECK_FAILED']);
    });

    it('400 with the problems for a signed invalid payload', async () => {
      const { url } = await start(adapter);
      const body = '{"event_id":"x","event_type":"NOPE"}';
      const response = await post(url, signedHeaders('x', body), body);
      expect(response.status).toBe(400);
      expect(response.json.error.code).toBe('invalid_payload');
      expect(response.json.error.details?.problems?.length).toBeGreaterThan(0);
    });

    it('401 without a signature', async () => {
      const { url } = await start(adapter);
      const signed = signedRequest();
      const response = await post(url, { 'content-type': 'application/json' }, signed.body);
      expect(response.status).toBe(401);
      expect(response.json.error.code).toBe('invalid_signature');
    });

    it('405 with allow: POST for GET', async () => {
      const { url } = await start(adapter);
      const response = await request(url, { method: 'GET' });
      expect(response.statusCode).toBe(405);
      expect(response.headers.allow).toBe('POST');
      expect(answer(await response.body.text()).error.code).toBe('method_not_allowed');
    });

    it('415 for a body that is not JSON', async () => {
      const { url } = await start(adapter);
      const signed = signedRequest();
      const response = await post(url, { ...signed.headers, 'content-type': 'text/plain' }, signed.body);
      expect(response.status).toBe(415);
      expect(response.json.error.code).toBe('unsupported_media_type');
    });

    it('413 for a body over the limit (content-length known)', async () => {
      const { url } = await start(adapter);
      const response = await post(url, { 'content-type': 'application/json' }, ' '.repeat(LIMIT + 1));
      expect(response.status).toBe(413);
      expect(response.json.error.code).toBe('payload_too_large');
    });

    it('413 for a 1 MiB body, every time: the answer is never lost to a reset of the connection', async () => {
      const { url } = await start(adapter);
      const big = ' '.repeat(1024 * 1024);
      for (let i = 0; i < 20; i++) {
        const response = await post(url, { 'content-type': 'application/json' }, big);
        expect(response.status).toBe(413);
      }
    });

    it('413 while an endless chunked body is still uploading: it stops reading at the limit', async () => {
      const { url } = await start(adapter);
      const response = await postEndlessBody(url);
      expect(response.status).toBe(413);
      expect(answer(response.body).error.code).toBe('payload_too_large');
      // Socket buffers let the client get ahead of the server a little, never by the whole stream.
      expect(response.sentBytes).toBeLessThan(64 * 1024 * 1024);
    });

    it('the connection still serves well-formed requests after error answers', async () => {
      const { url } = await start(adapter);
      await post(url, { 'content-type': 'text/plain' }, 'hello');
      const signed = signedRequest();
      expect((await post(url, signed.headers, signed.body)).status).toBe(200);
    });
  });
}

describe('express wiring', () => {
  it('uses the Buffer of express.raw() when that ran first', async () => {
    const receiver = createReceiver({
      secrets: [SECRET],
      inbox: createMemoryInbox(),
      logger: recordingLogger(),
    });
    cleanups.push(() => receiver.close());
    const app = express();
    app.post('/webhook', express.raw({ type: () => true }), createExpressMiddleware(receiver));
    const { url, close } = await listen(http.createServer(app));
    cleanups.push(close);
    const signed = signedRequest();
    expect((await post(`${url}/webhook`, signed.headers, signed.body)).status).toBe(200);
  });

  it('mounted after express.json(): refuses loudly through next(error) instead of failing every signature', async () => {
    const receiver = createReceiver({
      secrets: [SECRET],
      inbox: createMemoryInbox(),
      logger: recordingLogger(),
    });
    cleanups.push(() => receiver.close());
    const app = express();
    app.use(express.json());
    app.post('/webhook', createExpressMiddleware(receiver));
    let seen: Error | undefined;
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      seen = error;
      res.status(500).json({ error: { code: 'misconfigured', message: error.message } });
    });
    const { url, close } = await listen(http.createServer(app));
    cleanups.push(close);
    const signed = signedRequest();
    await post(`${url}/webhook`, signed.headers, signed.body);
    expect(seen?.message).toMatch(/before express\.json\(\)/);
  });
});

describe('fastify wiring', () => {
  it('keeps JSON parsing for the other routes of the app', async () => {
    const receiver = createReceiver({
      secrets: [SECRET],
      inbox: createMemoryInbox(),
      logger: recordingLogger(),
    });
    cleanups.push(() => receiver.close());
    const app = Fastify();
    await app.register(fastifyReceiver, { receiver });
    app.post('/echo', async (req) => ({ got: req.body }));
    const echo = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
    expect(echo.json()).toEqual({ got: { a: 1 } });
    const signed = signedRequest();
    const response = await app.inject({
      method: 'POST',
      url: '/webhook',
      headers: signed.headers,
      payload: Buffer.from(signed.body),
    });
    expect(response.statusCode).toBe(200);
    await app.close();
  });
});

describe('fuzz over a real socket: no 500 from any adapter', () => {
  const method = fc.constantFrom('POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS');
  const contentType = fc.option(
    fc.oneof(
      fc.constantFrom(
        'application/json',
        'text/plain',
        'application/json; charset=latin1',
        'application/x+json',
      ),
      fc.stringMatching(/^[\x21-\x7e]{0,30}$/),
    ),
    { nil: undefined },
  );
  const body = fc.oneof(
    fc.uint8Array({ maxLength: LIMIT + 100 }),
    fc.json().map((s) => Buffer.from(s)),
  );
  for (const [name, adapter] of ADAPTERS) {
    it(name, async () => {
      const { url } = await start(adapter);
      await fc.assert(
        fc.asyncProperty(method, contentType, body, async (m, type, b) => {
          const hasBody = m !== 'GET';
          const response = await request(url, {
            method: m as 'POST',
            headers: type === undefined ? {} : { 'content-type': type },
            ...(hasBody ? { body: b } : {}),
          });
          const text = await response.body.text();
          expect([200, 400, 401, 405, 413, 415]).toContain(response.statusCode);
          expect(() => JSON.parse(text)).not.toThrow();
        }),
        { numRuns: 40 },
      );
    });
  }
});
