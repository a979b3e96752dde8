/**
 * A key rotation covers the partners' notification secrets (failure alerts), on each dialect:
 * `rotateSecretsKey` (what `tpcs secrets rotate-key` runs) re-encrypts them beside the endpoint
 * secrets, counts them, does nothing the second time; the stored values, read with plain SQL, are all
 * under the new key, the old key alone can neither open the storage nor decrypt a value; and with the
 * new key alone the service's alerts are still signed with the partner's notification secret.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../src/alerts/events.js';
import { saveNotificationSettings } from '../../src/alerts/notifications.js';
import {
  Keyring,
  parseKey,
  SecretBox,
  SecretDecryptionError,
  SecretsKeyMismatchError,
  secretContext,
} from '../../src/secrets/index.js';
import { createVerifier } from '../../src/signing/index.js';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { type DeliveryService, startDeliveryService } from '../../src/webhooks/dispatcher/service.js';
import { type Sink, startSink } from '../dispatcher/sink.js';
import {
  connectToSchema,
  DIALECTS,
  type Dialect,
  type FreshDatabaseUrl,
  freshUrl,
  skipReason,
} from '../support/databases.js';
import { decide, newEndpoint, newPartner, newThirdParty } from '../support/fixtures.js';
import { waitFor } from '../support/wait-for.js';

const keyText = () => randomBytes(32).toString('base64');
const kid = (key: string) => parseKey(key).id;
const notificationContext = (customerId: string) => JSON.stringify(['notification_settings', customerId]);

/** Every stored encrypted value with what it is bound to, read with plain SQL beside the storage. */
async function storedValues(dialect: Dialect, url: string) {
  const sql = {
    endpoints: 'SELECT endpoint_id AS owner, secret AS value FROM endpoint_secrets',
    notifications:
      'SELECT customer_id AS owner, webhook_secret AS value FROM notification_settings WHERE webhook_secret IS NOT NULL',
  };
  let rows: {
    endpoints: { owner: string; value: string }[];
    notifications: { owner: string; value: string }[];
  };
  if (dialect === 'sqlite') {
    const db = new Database(url.slice('sqlite:'.length), { readonly: true });
    try {
      rows = {
        endpoints: db.prepare<[], { owner: string; value: string }>(sql.endpoints).all(),
        notifications: db.prepare<[], { owner: string; value: string }>(sql.notifications).all(),
      };
    } finally {
      db.close();
    }
  } else {
    const client = await connectToSchema(url);
    try {
      rows = {
        endpoints: (await client.query<{ owner: string; value: string }>(sql.endpoints)).rows,
        notifications: (await client.query<{ owner: string; value: string }>(sql.notifications)).rows,
      };
    } finally {
      await client.end();
    }
  }
  return [
    ...rows.endpoints.map((r) => ({ ...r, context: secretContext.endpoint(r.owner) })),
    ...rows.notifications.map((r) => ({ ...r, context: notificationContext(r.owner) })),
  ];
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(
    `notification secrets in a key rotation (${dialect})`,
    () => {
      const databases: FreshDatabaseUrl[] = [];
      const opened = new Set<Storage>();
      let sink: Sink | undefined;
      let service: DeliveryService | undefined;
      afterEach(async () => {
        await service?.stop(1000);
        service = undefined;
      });
      afterAll(async () => {
        for (const s of opened) await s.close();
        for (const d of databases) await d.drop();
        await sink?.close();
      });
      const open = async (url: string, key: string, oldKeys: string[] = []) => {
        const s = await openStorage(url, { secrets: { key, oldKeys } });
        opened.add(s);
        return s;
      };
      const close = async (s: Storage) => {
        opened.delete(s);
        await s.close();
      };

      it('re-encrypts them under the new key; alerts stay signed with the same secret; the old key reads nothing', async () => {
        sink = await startSink();
        const database = await freshUrl(dialect);
        databases.push(database);
        const { url } = database;
        const [oldKey, newKey] = [keyText(), keyText()];

        const before = await open(url, oldKey);
        const partner = await newPartner(before.store);
        const down = `/down-${dialect}`;
        const alertsPath = `/alerts-${dialect}`;
        await newEndpoint(before.store, partner, sink.url(down));
        const { secret } = await saveNotificationSettings(before.store, partner, {
          webhook_url: sink.url(alertsPath),
          email: null,
        });
        if (secret === null) throw new Error('no notification secret');
        await close(before);
        const sealed = (await storedValues(dialect, url)).filter((v) => v.owner === partner);
        expect(sealed).toHaveLength(1);
        expect(sealed[0]?.value.startsWith(`v1:${kid(oldKey)}:`)).toBe(true);
        expect(sealed[0]?.value).not.toContain(secret.slice(6));

        const rotating = await open(url, newKey, [oldKey]);
        expect(await rotating.rotateSecretsKey()).toEqual({
          endpointSecrets: 1,
          idempotentAnswers: 0,
          notificationSecrets: 1,
        });
        expect(await rotating.rotateSecretsKey()).toEqual({
          endpointSecrets: 0,
          idempotentAnswers: 0,
          notificationSecrets: 0,
        });
        await close(rotating);

        // every value is under the new key; the old key alone decrypts none of them, nor opens the storage
        const values = await storedValues(dialect, url);
        expect(values).toHaveLength(2);
        const oldOnly = new SecretBox(new Keyring(parseKey(oldKey)));
        const newOnly = new SecretBox(new Keyring(parseKey(newKey)));
        for (const v of values) {
          expect(v.value.startsWith(`v1:${kid(newKey)}:`), v.context).toBe(true);
          expect(() => oldOnly.open(v.value, v.context)).toThrow(SecretDecryptionError);
          expect(newOnly.open(v.value, v.context)).toMatch(/^whsec_/);
        }
        await expect(openStorage(url, { secrets: { key: oldKey } })).rejects.toBeInstanceOf(
          SecretsKeyMismatchError,
        );

        // the new key alone: the partner's settings read back, and an alert is signed with its secret
        const after = await open(url, newKey);
        expect((await after.store.getNotificationSettings(partner))?.webhookSecret).toBe(secret);
        sink.on(down, () => ({ status: 500 }));
        service = await startDeliveryService({
          queue: after.queue,
          store: after.store,
          allowPrivateEndpoints: true,
          retryScheduleMs: [60_000],
          tuning: { pollIntervalMs: 50, timeoutMs: 2000, jitter: 'none', failureWindowMs: 3600_000 },
        });
        await decide(after.store, partner, await newThirdParty(after.store, partner), 'APPROVED');
        const alert = await waitFor(() => sink?.received.find((r) => r.path === alertsPath), {
          what: 'endpoint.failing at the notification endpoint',
        });
        expect(createVerifier([secret])(alert.headers as Record<string, string>, alert.body)).toMatchObject({
          ok: true,
        });
        expect(
          createVerifier([`whsec_${randomBytes(24).toString('base64')}`])(
            alert.headers as Record<string, string>,
            alert.body,
          ).ok,
        ).toBe(false);
        expect((JSON.parse(alert.body) as AlertEvent).event_type).toBe('endpoint.failing');
      });
    },
  );
}
