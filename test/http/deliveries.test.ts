/**
 * The partner's delivery list over HTTP, on each dialect (test/support/databases.ts), with the delivery
 * queue open on the same database (attempts are recorded through it, deterministically, without a
 * dispatcher): `attempt_count` is the number of attempts listed, also after a recover; a delivery
 * waiting behind an earlier event of the same third party says so (`waiting_for`), in the API and
 * on the dashboard; and every answer matches the schema `/openapi.json` publishes for it.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { generateToken, hashToken } from '../../src/http/auth.js';
import type { DeliveryQueue } from '../../src/storage/queue.js';
import type { Store } from '../../src/storage/store.js';
import { createSender } from '../../src/webhooks/dispatcher/sender.js';
import { DIALECTS, openDatabase, skipReason, type TestDatabase } from '../support/databases.js';
import { validThirdParty } from './harness.js';

const PARTNER = 'DLV';
const DELIVERIES_PATH = '/api/v1/customers/{customer_id}/webhooks/{webhook_id}/deliveries';
const WORKER = { workerId: 'http-test', failureWindowMs: 5 * 24 * 3600_000 };

interface DeliveryView {
  id: string;
  event_id: string;
  status: 'pending' | 'delivered' | 'failed';
  attempt_count: number;
  next_attempt_at: string | null;
  waiting_for?: { event_id: string; delivery_id: string };
  attempts: { status_code: number | null }[];
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`delivery list (${dialect})`, () => {
    let app: FastifyInstance;
    let store: Store;
    let queue: DeliveryQueue;
    let db: TestDatabase;
    let adminToken: string;
    let token: string;
    let endpointId: string;
    let validate: (body: unknown) => string[];
    let clock = Date.now() + 1000;

    const call = (method: 'GET' | 'POST', url: string, body?: unknown) =>
      app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
    const base = () => `/api/v1/customers/${PARTNER}/webhooks/${endpointId}`;
    /** The list, checked against the published schema, by event id. */
    const list = async (): Promise<Map<string, DeliveryView>> => {
      const res = await call('GET', `${base()}/deliveries`);
      expect(res.statusCode).toBe(200);
      const body = res.json() as { deliveries: DeliveryView[] };
      expect(validate(body)).toEqual([]);
      return new Map(body.deliveries.map((d) => [d.event_id, d]));
    };
    const decide = async (ref: string, status: 'APPROVED' | 'REJECTED'): Promise<string> => {
      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/admin/customers/${PARTNER}/third-parties/${ref}/decision`,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        payload: JSON.stringify(
          status === 'REJECTED'
            ? { status, reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' }] }
            : { status },
        ),
      });
      expect(res.statusCode).toBe(200);
      return (res.json() as { event: { event_id: string } }).event.event_id;
    };
    /** Claims the endpoint's due heads and records one attempt answered `status` for `eventId`'s. */
    const attempt = async (eventId: string, status: number, next: 'pending' | 'failed' | 'delivered') => {
      clock += 60_000;
      const claimed = (
        await queue.claim({
          workerId: WORKER.workerId,
          now: new Date(clock),
          leaseMs: 30_000,
          limit: 100,
          perEndpoint: 10,
        })
      ).filter((c) => c.endpointId === endpointId);
      const c = claimed.find((x) => x.eventId === eventId);
      if (!c)
        throw new Error(`not claimed: ${eventId} (claimed ${claimed.map((x) => x.eventId).join(', ')})`);
      await queue.complete(
        [
          {
            deliveryId: c.id,
            endpointId,
            at: new Date(clock),
            durationMs: 4,
            statusCode: status,
            error: status < 300 ? null : `HTTP ${status}`,
            responseExcerpt: null,
            next:
              next === 'pending'
                ? { status: 'pending', nextAttemptAt: new Date(clock + 1000) }
                : { status: next },
            succeeded: status < 300,
          },
        ],
        WORKER,
      );
      await queue.release(
        WORKER.workerId,
        claimed.filter((x) => x.id !== c.id).map((x) => x.id),
      );
      return c;
    };
    beforeAll(async () => {
      db = await openDatabase(dialect);
      ({ store, queue } = db);
      adminToken = generateToken('admin');
      app = buildApp({
        store,
        adminTokenHash: hashToken(adminToken),
        allowPrivateEndpoints: true,
        delivery: { queue, sender: createSender({ allowPrivateEndpoints: true }) },
      });
      await app.ready();

      const partner = await app.inject({
        method: 'POST',
        url: '/api/v1/admin/partners',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ customer_id: PARTNER }),
      });
      token = (partner.json() as { token: string }).token;
      const ep = await call('POST', `/api/v1/customers/${PARTNER}/webhooks`, {
        url: 'http://127.0.0.1:9/hook',
        event_types: ['THIRD PARTY CUSTOMER STATUS'],
      });
      endpointId = (ep.json() as { id: string }).id;

      // the schema /openapi.json publishes for the list's 200 answer, its $refs resolved in the document
      const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
        paths: Record<
          string,
          { get: { responses: Record<string, { content: Record<string, { schema: object }> }> } }
        >;
        components: object;
      };
      const schema = doc.paths[DELIVERIES_PATH]?.get.responses['200']?.content['application/json']?.schema;
      if (!schema) throw new Error(`no 200 schema for ${DELIVERIES_PATH}`);
      const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
      const check = ajv.compile({ ...schema, components: doc.components });
      validate = (body) =>
        check(body) ? [] : (check.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
    });

    afterAll(async () => {
      await app?.close();
      await db?.dispose();
    });

    it('documents waiting_for in /openapi.json, and the schema refuses an undocumented shape', async () => {
      const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
        components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
      };
      const delivery = doc.components.schemas.Delivery;
      expect(Object.keys(delivery?.properties ?? {})).toContain('waiting_for');
      expect(delivery?.required ?? []).not.toContain('waiting_for');
      expect(JSON.stringify(doc.components.schemas)).toContain('earlier event');
      // the validator is not vacuous
      expect(validate({ deliveries: [{ id: 1 }], next_cursor: null })).not.toEqual([]);
    });

    it('names the earlier event a delivery waits for, until that one is failed or delivered', async () => {
      await call('POST', `/api/v1/customers/${PARTNER}/third-parties`, validThirdParty('W1'));
      const first = await decide('W1', 'REJECTED');
      const second = await decide('W1', 'APPROVED');
      let byEvent = await list();
      const firstId = byEvent.get(first)?.id;
      expect(byEvent.get(first)).not.toHaveProperty('waiting_for');
      expect(byEvent.get(second)).toMatchObject({
        status: 'pending',
        waiting_for: { event_id: first, delivery_id: firstId },
      });

      // the endpoint fails the first event: the second still waits, and says for what
      await attempt(first, 500, 'pending');
      byEvent = await list();
      expect(byEvent.get(second)?.waiting_for).toEqual({ event_id: first, delivery_id: firstId });
      expect(Date.parse(byEvent.get(second)?.next_attempt_at ?? '')).toBeLessThan(clock);

      // the dashboard's endpoint page says it instead of the past due time
      const login = await app.inject({
        method: 'POST',
        url: '/dashboard/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ token }).toString(),
      });
      const cookie = String(login.headers['set-cookie']).split(';')[0] ?? '';
      const page = await app.inject({
        method: 'GET',
        url: `/dashboard/endpoints/${PARTNER}/${endpointId}`,
        headers: { cookie },
      });
      expect(page.statusCode).toBe(200);
      const card = page.body.slice(page.body.indexOf(`id="delivery-${byEvent.get(second)?.id}"`));
      expect(card.slice(0, card.indexOf('</header>'))).toContain(
        `waiting for the earlier event <a href="#delivery-${firstId}"><code>${first}</code></a>`,
      );

      // the first finally fails (400): nothing waits any more
      await attempt(first, 400, 'failed');
      byEvent = await list();
      expect(byEvent.get(first)).toMatchObject({ status: 'failed', attempt_count: 2 });
      expect(byEvent.get(second)).toMatchObject({ status: 'pending' });
      expect(byEvent.get(second)).not.toHaveProperty('waiting_for');
      await attempt(second, 200, 'delivered');
      byEvent = await list();
      expect([...byEvent.values()].filter((d) => d.waiting_for !== undefined)).toEqual([]);
    });

    it('keeps attempt_count equal to the attempts listed after a recover and another attempt', async () => {
      const since = new Date(Date.now() - 60_000).toISOString();
      await call('POST', `/api/v1/customers/${PARTNER}/third-parties`, validThirdParty('R1'));
      const eventId = await decide('R1', 'APPROVED');
      await attempt(eventId, 400, 'failed');
      const recovered = await call('POST', `${base()}/recover`, { since });
      expect(recovered.json()).toMatchObject({ requeued: 2 }); // this one and W1's first event
      let d = (await list()).get(eventId);
      expect(d).toMatchObject({ status: 'pending', attempt_count: 1 });

      // the recovered delivery starts a new retry round: attempt_count still counts from where it was
      const claimed = await attempt(eventId, 500, 'pending');
      expect(claimed).toMatchObject({ attemptCount: 1, retryRoundStart: 1 });
      d = (await list()).get(eventId);
      expect(d).toMatchObject({ status: 'pending', attempt_count: 2 });
      expect(d?.attempts.map((a) => a.status_code)).toEqual([400, 500]);
      await attempt(eventId, 200, 'delivered');
      d = (await list()).get(eventId);
      expect(d).toMatchObject({ status: 'delivered', attempt_count: 3 });
      expect(d?.attempts).toHaveLength(3);
      for (const x of (await list()).values()) expect(x.attempt_count, x.event_id).toBe(x.attempts.length);

      // retry of one delivery answers the same view
      const retried = await call('POST', `${base()}/deliveries/${d?.id}/retry`);
      expect(retried.statusCode).toBe(202);
      expect(retried.json()).toMatchObject({ id: d?.id, status: 'pending', attempt_count: 3 });
    });
  });
}
