import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { fixtures, invalidPayloadBodySchema, type Reason } from '../../src/contract/index.js';
import {
  createMemoryInbox,
  createReceiver,
  createSqliteInbox,
  type InboxStore,
  type Receiver,
  type ReceiverOptions,
} from '../../src/receiver/index.js';
import { signWebhook } from '../../src/signing/index.js';
import { waitFor } from '../support/wait-for.js';
import {
  answer,
  eventJson,
  OTHER_SECRET,
  REASONS,
  recordingLogger,
  SECRET,
  signedHeaders,
  signedRequest,
  tempDir,
} from './helpers.js';

const open: Receiver[] = [];
function receiver(options: ReceiverOptions = {}): Receiver {
  const r = createReceiver({
    secrets: [SECRET],
    inbox: createMemoryInbox(),
    logger: recordingLogger(),
    ...options,
  });
  open.push(r);
  return r;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

const json = answer;

/** The store as it is, noting the size of every batch handed to `record`. */
function countingBatches(inbox: InboxStore): { counting: InboxStore; batches: number[] } {
  const batches: number[] = [];
  const counting: InboxStore = {
    ...inbox,
    record: (entries, options) => {
      batches.push(entries.length);
      return inbox.record(entries, options);
    },
  };
  return { counting, batches };
}

describe('answers', () => {
  it('200 for a signed, valid event, with the outcome', async () => {
    const request = signedRequest();
    const response = await receiver().handle(request);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(json(response.body)).toEqual({ received: true, event_id: request.eventId, outcome: 'recorded' });
  });

  it('200 for each seed fixture', async () => {
    const r = receiver();
    for (const body of [fixtures.payload, fixtures.rejected, fixtures.approved]) {
      const id = (JSON.parse(body) as { event_id: string }).event_id;
      const response = await r.handle({
        method: 'POST',
        headers: signedHeaders(id, body),
        body: Buffer.from(body),
      });
      expect(response.status, body).toBe(200);
    }
  });

  it('200 for a duplicate event_id, recorded and handled once', async () => {
    const r = receiver();
    const seen: string[] = [];
    r.on('*', (event) => {
      seen.push(event.event_id);
    });
    const request = signedRequest();
    const first = await r.handle(request);
    const second = await r.handle({ ...request, headers: signedHeaders(request.eventId, request.body) });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(json(second.body).outcome).toBe('duplicate');
    await r.drain();
    expect(seen).toEqual([request.eventId]);
  });

  it('counts what it answered: accepted events by outcome, the rest by status', async () => {
    const r = receiver();
    expect(r.stats()).toEqual({ recorded: 0, duplicate: 0, stale: 0, rejected: {} });
    const newer = signedRequest({ at: '2025-03-01T00:00:00Z' });
    await r.handle(newer);
    await r.handle({ ...newer, headers: signedHeaders(newer.eventId, newer.body) });
    await r.handle(signedRequest({ at: '2025-02-01T00:00:00Z' }));
    await r.handle({ ...signedRequest(), headers: { 'content-type': 'application/json' } });
    await r.handle({ ...signedRequest(), method: 'GET' });
    await r.handle({ ...signedRequest(), method: 'GET' });
    const snapshot = r.stats();
    expect(snapshot).toEqual({ recorded: 1, duplicate: 1, stale: 1, rejected: { 401: 1, 405: 2 } });
    // A snapshot: later requests do not change one already taken.
    await r.handle(signedRequest({ at: '2025-04-01T00:00:00Z' }));
    expect([snapshot.recorded, r.stats().recorded]).toEqual([1, 2]);
  });

  it("400 with every problem, in the contract's invalid_payload shape", async () => {
    const body = JSON.stringify({
      ...json(fixtures.approved),
      event_type: 'OTHER',
      data: { status: 'PENDING' },
    });
    const response = await receiver().handle({
      method: 'POST',
      headers: signedHeaders('3', body),
      body: Buffer.from(body),
    });
    expect(response.status).toBe(400);
    const parsed = invalidPayloadBodySchema.parse(json(response.body));
    const paths = parsed.error.details.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['$.event_type', '$.data.status', '$.data.customer_id']));
  });

  it('400 for bytes that are not JSON at all, checked after the signature', async () => {
    const body = Buffer.from([0xff, 0xfe, 0x7b]);
    const response = await receiver().handle({ method: 'POST', headers: signedHeaders('x', body), body });
    expect(response.status).toBe(400);
    expect(json(response.body).error.code).toBe('invalid_payload');
  });

  it.each([
    ['no signature headers', () => ({ 'content-type': 'application/json' }), 'missing_headers'],
    [
      'another secret',
      (id: string, body: Uint8Array) => signedHeaders(id, body, [OTHER_SECRET]),
      'no_valid_signature',
    ],
    [
      'a signature older than the tolerance',
      (id: string, body: Uint8Array) =>
        signedHeaders(id, body, [SECRET], Math.floor(Date.now() / 1000) - 310),
      'timestamp_too_old',
    ],
    [
      'a signature from the future',
      (id: string, body: Uint8Array) =>
        signedHeaders(id, body, [SECRET], Math.floor(Date.now() / 1000) + 310),
      'timestamp_too_new',
    ],
  ])('401 for %s', async (_name, headersFor, reason) => {
    const { eventId, body } = signedRequest();
    const r = receiver();
    const response = await r.handle({ method: 'POST', headers: headersFor(eventId, body), body });
    expect(response.status).toBe(401);
    expect(json(response.body).error).toMatchObject({ code: 'invalid_signature', details: { reason } });
    expect(await r.inbox.getEvent(eventId)).toBeUndefined();
  });

  it('401 when the body was altered after signing', async () => {
    const { eventId, headers, body } = signedRequest({ status: 'APPROVED' });
    const altered = Buffer.from(Buffer.from(body).toString().replace('APPROVED', 'REJECTED'));
    expect((await receiver().handle({ method: 'POST', headers, body: altered })).status).toBe(401);
    expect(eventId).toBeTruthy();
  });

  it('respects toleranceSeconds', async () => {
    const { eventId, body } = signedRequest();
    const headers = signedHeaders(eventId, body, [SECRET], Math.floor(Date.now() / 1000) - 120);
    expect((await receiver({ toleranceSeconds: 60 }).handle({ method: 'POST', headers, body })).status).toBe(
      401,
    );
    expect((await receiver({ toleranceSeconds: 600 }).handle({ method: 'POST', headers, body })).status).toBe(
      200,
    );
  });

  it('400 for an event dated more than 5 minutes ahead, with the reason; nothing is recorded', async () => {
    const inbox = createMemoryInbox();
    const r = receiver({ inbox });
    const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const far = signedRequest({ at: inSeconds(10 * 365 * 86_400), status: 'APPROVED' });
    const response = await r.handle(far);
    expect(response.status).toBe(400);
    const body = invalidPayloadBodySchema.parse(json(response.body));
    expect(body.error.details.problems).toEqual([
      { path: '$.event_timestamp', message: expect.stringMatching(/ahead of this receiver's clock.*300 s/) },
    ]);
    expect(await inbox.getEvent(far.eventId)).toBeUndefined();
    expect(await inbox.getStatus('0201001008132685', 'CUST_001')).toBeUndefined();
    // within the tolerance it is an ordinary event (a sender's clock a little ahead of ours)
    expect((await r.handle(signedRequest({ at: inSeconds(240) }))).status).toBe(200);
    // the tolerance is an option
    expect(
      (await receiver({ futureToleranceSeconds: 60 }).handle(signedRequest({ at: inSeconds(240) }))).status,
    ).toBe(400);
    expect(
      (await receiver({ futureToleranceSeconds: 3600 }).handle(signedRequest({ at: inSeconds(1800) })))
        .status,
    ).toBe(200);
  });

  it('413 from content-length alone, without reading the body', async () => {
    let read = false;
    const response = await receiver({ maxBodyBytes: 100 }).handle({
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '101' },
      body: async () => {
        read = true;
        return new Uint8Array(0);
      },
    });
    expect(response.status).toBe(413);
    expect(json(response.body).error).toMatchObject({
      code: 'payload_too_large',
      details: { limit_bytes: 100 },
    });
    expect(read).toBe(false);
  });

  it('413 when the body turns out larger than the limit, or the reader stops at it', async () => {
    const r = receiver({ maxBodyBytes: 100 });
    const headers = { 'content-type': 'application/json' };
    expect((await r.handle({ method: 'POST', headers, body: new Uint8Array(101) })).status).toBe(413);
    let limit = 0;
    const response = await r.handle({
      method: 'POST',
      headers,
      body: async (l) => {
        limit = l;
        return undefined;
      },
    });
    expect([response.status, limit]).toEqual([413, 100]);
    // Exactly at the limit is fine (then it is the payload's turn to be judged).
    expect((await r.handle({ method: 'POST', headers, body: new Uint8Array(100) })).status).toBe(401);
  });

  it.each([
    [undefined, 415],
    ['text/plain', 415],
    ['application/x-www-form-urlencoded', 415],
    ['application/json; charset=utf-16', 415],
    ['application/jsonp', 415],
    ['application/json', 200],
    ['Application/JSON; Charset="UTF-8"', 200],
    ['application/json;charset=utf8', 200],
    ['application/cloudevents+json', 200],
  ])('content-type %s → %i', async (contentType, status) => {
    const request = signedRequest();
    const headers: Record<string, string> = { ...request.headers };
    delete headers['content-type'];
    if (contentType) headers['Content-Type'] = contentType;
    const response = await receiver().handle({ ...request, headers });
    expect(response.status).toBe(status);
    if (status === 415) expect(json(response.body).error.code).toBe('unsupported_media_type');
  });

  it.each(['GET', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'get'])(
    '405 with allow: POST for %s',
    async (method) => {
      const response = await receiver().handle({ ...signedRequest(), method });
      expect(response.status).toBe(405);
      expect(response.headers.allow).toBe('POST');
      expect(json(response.body).error.code).toBe('method_not_allowed');
    },
  );

  it('accepts a lower-case method name for POST', async () => {
    expect((await receiver().handle({ ...signedRequest(), method: 'post' })).status).toBe(200);
  });

  it('reads headers from a Fetch Headers object as well as a record', async () => {
    const request = signedRequest();
    expect((await receiver().handle({ ...request, headers: new Headers(request.headers) })).status).toBe(200);
  });

  it('503 with Retry-After, not 200, while the inbox cannot record; one log line per episode', async () => {
    const inbox = createMemoryInbox();
    let full = true;
    const flaky: InboxStore = {
      ...inbox,
      record: async (entries, options) => {
        if (full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        return inbox.record(entries, options);
      },
    };
    const logger = recordingLogger();
    const r = receiver({ inbox: flaky, logger });
    for (let i = 0; i < 5; i++) {
      const response = await r.handle(signedRequest());
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('10');
      expect(json(response.body).error.code).toBe('inbox_unavailable');
    }
    expect(r.health()).toEqual({
      writable: false,
      failing: [
        {
          writer: 'inbox',
          since: expect.any(Date),
          error: 'SQLITE_FULL: database or disk is full',
          failures: 5,
        },
      ],
    });
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'inbox cannot write: events are answered 503 until it can (logged once until it can)',
    ]);

    full = false;
    expect((await r.handle(signedRequest())).status).toBe(200);
    expect(r.health()).toEqual({ writable: true, failing: [] });
    expect(logger.lines.filter((l) => l.message === 'inbox writes again').map((l) => l.fields)).toEqual([
      { failed_writes: 5, seconds: expect.any(Number) },
    ]);
  });
});

describe('secrets', () => {
  it('accepts any of several secrets (rotation) and a header signed with both', async () => {
    const r = receiver({ secrets: [SECRET, OTHER_SECRET] });
    expect((await r.handle(signedRequest({}, [SECRET]))).status).toBe(200);
    expect((await r.handle(signedRequest({}, [OTHER_SECRET]))).status).toBe(200);
    expect((await r.handle(signedRequest({}, [OTHER_SECRET, SECRET]))).status).toBe(200);
    const onlyNew = receiver({ secrets: OTHER_SECRET });
    expect((await onlyNew.handle(signedRequest({}, [SECRET]))).status).toBe(401);
  });

  it('refuses to start without a secret unless verification is turned off explicitly', () => {
    const inbox = createMemoryInbox();
    for (const secrets of [undefined, [], ''] as const) {
      expect(() => createReceiver(secrets === undefined ? { inbox } : { secrets, inbox })).toThrow(
        /no signing secret|empty or undefined/,
      );
    }
    // Not truthy: exactly true. And not beside a secret: which one was meant is not for us to guess.
    const sloppy = { insecureSkipVerify: 'yes' as unknown as boolean, inbox };
    expect(() => createReceiver(sloppy)).toThrow(/no signing secret/);
    expect(() => createReceiver({ secrets: [SECRET], insecureSkipVerify: true, inbox })).toThrow(/not both/);
    // The Node entry checks before it opens a file: nothing is left behind.
    const file = path.join(tempDir(), 'never.db');
    expect(() => createReceiver({ inbox: file })).toThrow(/no signing secret/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('with insecureSkipVerify: true, accepts unsigned events and warns loudly', async () => {
    const logger = recordingLogger();
    const r = createReceiver({ insecureSkipVerify: true, inbox: createMemoryInbox(), logger });
    open.push(r);
    expect(r.verifiesSignatures).toBe(false);
    expect(logger.lines.some((l) => l.level === 'warn' && /NOT verified/.test(l.message))).toBe(true);
    const { json: body } = eventJson();
    const response = await r.handle({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(body),
    });
    expect(response.status).toBe(200);
  });

  it('refuses an empty or undefined secret instead of silently switching verification off', () => {
    expect(() => createReceiver({ secrets: [''], inbox: createMemoryInbox() })).toThrow(/empty or undefined/);
    expect(() =>
      createReceiver({ secrets: [undefined as unknown as string], inbox: createMemoryInbox() }),
    ).toThrow();
    expect(() => createReceiver({ secrets: ['not-a-secret'], inbox: createMemoryInbox() })).toThrow();
  });
});

describe('handlers', () => {
  it('get the typed event narrowed by status, after the answer', async () => {
    const r = receiver();
    const rejected: (Reason[] | undefined)[] = [];
    const approved: string[] = [];
    const all: string[] = [];
    r.on('REJECTED', (event, context) => {
      expectTypeOf(event.data.status).toEqualTypeOf<'REJECTED'>();
      expect(context).toMatchObject({ attempt: 1, stale: false });
      rejected.push(event.data.reasons);
    });
    r.on('APPROVED', (event) => {
      expectTypeOf(event.data.status).toEqualTypeOf<'APPROVED'>();
      approved.push(event.data.client_customer_ref);
    });
    r.on('*', (event) => {
      all.push(event.data.status);
    });
    await r.handle(signedRequest({ status: 'REJECTED', ref: 'R1' }));
    await r.handle(signedRequest({ status: 'APPROVED', ref: 'A1' }));
    await r.drain();
    expect(rejected).toEqual([REASONS]);
    expect(approved).toEqual(['A1']);
    expect(all).toEqual(['REJECTED', 'APPROVED']);
  });

  it('run only after the event is recorded: a handler sees it in the inbox and status table', async () => {
    const r = receiver();
    let statusSeen: string | undefined;
    r.on('*', async (event) => {
      statusSeen = (await r.inbox.getStatus(event.data.customer_id, event.data.client_customer_ref))?.status;
    });
    await r.handle(signedRequest({ status: 'APPROVED' }));
    await r.drain();
    expect(statusSeen).toBe('APPROVED');
  });

  it('can be unsubscribed', async () => {
    const r = receiver();
    let calls = 0;
    const off = r.on('*', () => {
      calls++;
    });
    off();
    await r.handle(signedRequest());
    await r.drain();
    expect(calls).toBe(0);
  });

  it('are retried with backoff when they throw, then the event is marked handled', async () => {
    const logger = recordingLogger();
    const r = receiver({ logger, retry: { initialDelayMs: 20, maxDelayMs: 40 } });
    const attempts: number[] = [];
    r.on('*', (_event, context) => {
      attempts.push(context.attempt);
      if (context.attempt < 3) throw new Error(`flaky ${context.attempt}`);
    });
    const request = signedRequest();
    await r.handle(request);
    await waitFor(async () => (await r.inbox.getEvent(request.eventId))?.state === 'handled', {
      what: 'the event handled',
    });
    expect(attempts).toEqual([1, 2, 3]);
    expect(await r.inbox.getEvent(request.eventId)).toMatchObject({
      state: 'handled',
      attempts: 2,
      lastError: 'flaky 2',
    });
    expect(logger.lines.filter((l) => l.message.startsWith('handler failed; will retry'))).toHaveLength(2);
  });

  it('give up after maxAttempts: the row is failed and an error is logged', async () => {
    const logger = recordingLogger();
    const r = receiver({ logger, retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 10 } });
    let calls = 0;
    r.on('APPROVED', () => {
      calls++;
      throw new Error('always');
    });
    const request = signedRequest({ status: 'APPROVED' });
    await r.handle(request);
    await waitFor(async () => (await r.inbox.getEvent(request.eventId))?.state === 'failed', {
      what: 'the event failed',
    });
    expect(calls).toBe(2);
    expect(await r.inbox.getEvent(request.eventId)).toMatchObject({ state: 'failed', attempts: 2 });
    expect(logger.lines.some((l) => l.level === 'error' && /giving up/.test(l.message))).toBe(true);
  });

  it('do not see stale events by default; they do with handleStaleEvents', async () => {
    for (const handleStaleEvents of [false, true]) {
      const r = receiver({ handleStaleEvents });
      const seen: [string, boolean][] = [];
      r.on('*', (event, context) => {
        seen.push([event.data.status, context.stale]);
      });
      await r.handle(signedRequest({ status: 'APPROVED', at: '2025-03-01T00:00:00Z' }));
      const stale = await r.handle(signedRequest({ status: 'REJECTED', at: '2025-02-01T00:00:00Z' }));
      expect(json(stale.body).outcome).toBe('stale');
      await r.drain();
      expect(seen).toEqual(
        handleStaleEvents
          ? [
              ['APPROVED', false],
              ['REJECTED', true],
            ]
          : [['APPROVED', false]],
      );
      expect((await r.inbox.getStatus('0201001008132685', 'CUST_001'))?.status).toBe('APPROVED');
    }
  });
});

describe('durability', () => {
  it('crash after 200: events recorded but not handled run once after a restart on the same file', async () => {
    const file = path.join(tempDir(), 'inbox.db');
    const first = createReceiver({
      secrets: [SECRET],
      inbox: file,
      startWorker: false,
      logger: recordingLogger(),
    });
    let firstCalls = 0;
    first.on('*', () => {
      firstCalls++;
    });
    const requests = [signedRequest({ ref: 'A' }), signedRequest({ ref: 'B' }), signedRequest({ ref: 'C' })];
    for (const request of requests) expect((await first.handle(request)).status).toBe(200);
    await first.close(); // the "crash": nothing handled
    expect(firstCalls).toBe(0);

    const handled: string[] = [];
    const second = createReceiver({ secrets: [SECRET], inbox: file, logger: recordingLogger() });
    second.on('*', (event) => {
      handled.push(event.event_id);
    });
    await second.drain();
    // The sender retries one of them (it never saw our 200): still handled once.
    expect(json((await second.handle(requests[0] as (typeof requests)[0])).body).outcome).toBe('duplicate');
    await second.drain();
    await second.close();
    expect(handled).toEqual(requests.map((r) => r.eventId));

    const third = createReceiver({ secrets: [SECRET], inbox: file, logger: recordingLogger() });
    let thirdCalls = 0;
    third.on('*', () => {
      thirdCalls++;
    });
    await third.drain();
    await third.close();
    expect(thirdCalls).toBe(0);
  });

  it('group commit: concurrent events share transactions, each gets its own outcome', async () => {
    const inbox = createSqliteInbox(path.join(tempDir(), 'inbox.db'));
    const { counting, batches } = countingBatches(inbox);
    const r = receiver({ inbox: counting });
    const requests = Array.from({ length: 50 }, () => signedRequest());
    const responses = await Promise.all(
      [...requests, requests[0] as (typeof requests)[0]].map((q) => r.handle(q)),
    );
    expect(responses.map((x) => json(x.body).outcome)).toEqual([
      ...requests.map(() => 'recorded'),
      'duplicate',
    ]);
    // All 51 reached the inbox in the same turn (bodies in memory, node:crypto verifies at once), so
    // they share the one transaction the next turn writes, the duplicate included
    expect(batches).toEqual([51]);
    await inbox.close();
  });

  it('without group commit every event is its own transaction', async () => {
    const inbox = createMemoryInbox();
    const { counting, batches } = countingBatches(inbox);
    const r = receiver({ inbox: counting, groupCommit: false });
    await Promise.all(Array.from({ length: 5 }, () => r.handle(signedRequest())));
    expect(batches).toEqual([1, 1, 1, 1, 1]);
  });

  it('the id in webhook-id is not trusted for dedupe: event_id is', async () => {
    const r = receiver();
    const { eventId, json: body } = eventJson();
    const headers = {
      'content-type': 'application/json',
      ...signWebhook({ id: 'other-id', timestamp: Math.floor(Date.now() / 1000), body, secrets: [SECRET] }),
    };
    await r.handle({ method: 'POST', headers, body: Buffer.from(body) });
    expect(await r.inbox.getEvent(eventId)).toBeDefined();
  });
});

describe('headers the core reads itself', () => {
  it('repeated content-type lines count only when they agree, as the signature headers do', async () => {
    const r = receiver();
    const request = signedRequest();
    const headers = request.headers as Record<string, string | string[]>;
    const same = await r.handle({
      ...request,
      headers: { ...headers, 'content-type': ['application/json', 'application/json'] },
    });
    expect(same.status).toBe(200);
    const other = signedRequest();
    const differing = await r.handle({
      ...other,
      headers: { ...other.headers, 'content-type': ['application/json', 'text/plain'] },
    });
    expect([differing.status, json(differing.body).error?.code]).toEqual([415, 'unsupported_media_type']);
  });
});
