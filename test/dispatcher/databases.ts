/**
 * Real databases for the dispatcher's tests: a fresh SQLite file or a fresh PostgreSQL schema per call,
 * opened through the same `openStorage` the service uses. Whether PostgreSQL runs, skips or fails the
 * run is decided once, in test/support/postgres.ts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { formatEventTimestamp } from '../../src/contract/index.js';
import { nextEventTimestamp } from '../../src/customers/decisions.js';
import { isStatusChange } from '../../src/customers/status-change.js';
import { openStorage } from '../../src/storage/index.js';
import type { DeliveryQueue } from '../../src/storage/queue.js';
import type { DecisionStatus, Store } from '../../src/storage/store.js';
import { PG_URL, postgresSkipReason } from '../support/postgres.js';

export const DIALECTS = ['sqlite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];
export { PG_URL };
export const EVENT_TYPE = 'THIRD PARTY CUSTOMER STATUS';

/** Why the dialect's tests are skipped, or undefined when they run. */
export async function skipReason(dialect: Dialect): Promise<string | undefined> {
  return dialect === 'sqlite' ? undefined : postgresSkipReason();
}

export interface TestDatabase {
  url: string;
  store: Store;
  queue: DeliveryQueue;
  dispose(): Promise<void>;
}

/** A fresh, migrated database with the store and the queue open on it. */
export async function freshDatabase(dialect: Dialect): Promise<TestDatabase> {
  let url: string;
  let cleanup: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'tpcs-dispatch-'));
    url = `sqlite:${join(dir, 'tpcs.db')}`;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const schema = `tpcs_dispatch_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    url = u.toString();
    cleanup = async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    };
  }
  const storage = await openStorage(url);
  return {
    url,
    store: storage.store,
    queue: storage.queue,
    async dispose() {
      await storage.close();
      await cleanup();
    },
  };
}

export const newId = (prefix: string): string => `${prefix}${randomUUID().replaceAll('-', '').slice(0, 16)}`;

/** A partner with a random customer_id. */
export async function newPartner(store: Store): Promise<string> {
  const customerId = `0201${Math.floor(Math.random() * 1e12)
    .toString()
    .padStart(12, '0')}`;
  await store.createPartner({ customerId, name: 'Acme', tokenHash: newId('h'), createdAt: new Date() });
  return customerId;
}

export async function newThirdParty(store: Store, customerId: string, ref = newId('ref_')): Promise<string> {
  await store.createThirdParty({
    customerId,
    clientCustomerRef: ref,
    clientCustomerDetails: { client_customer_ref: ref },
    propertyDetails: [],
    createdAt: new Date(),
  });
  return ref;
}

export async function newEndpoint(
  store: Store,
  customerId: string,
  url: string,
  secret = SECRET,
): Promise<string> {
  const id = newId('ep_');
  await store.createEndpoint({
    id,
    customerId,
    url,
    description: null,
    eventTypes: [EVENT_TYPE],
    secret,
    createdAt: new Date(),
  });
  return id;
}

export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** Records a decision; returns the event id (the decision must change the status). */
export async function decide(
  store: Store,
  customerId: string,
  ref: string,
  status: DecisionStatus,
  at = new Date(),
): Promise<string> {
  const eventId = randomUUID();
  const reasons = status === 'REJECTED' ? [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'test' }] : null;
  const r = await store.recordDecision({
    customerId,
    clientCustomerRef: ref,
    status,
    reasons,
    decidedAt: at,
    changes: (current) => isStatusChange(current, { status, reasons }),
    buildEvent: (previousEventAt) => {
      const eventAt = nextEventTimestamp(at, previousEventAt);
      const payload = JSON.stringify({
        event_id: eventId,
        event_type: EVENT_TYPE,
        version: 'v1.0.0',
        event_timestamp: formatEventTimestamp(eventAt),
        data: { customer_id: customerId, client_customer_ref: ref, status, ...(reasons ? { reasons } : {}) },
      });
      return { eventId, eventType: EVENT_TYPE, payload, eventAt };
    },
  });
  if (r.outcome !== 'changed') throw new Error(`decision did not change the status: ${r.outcome}`);
  return eventId;
}
