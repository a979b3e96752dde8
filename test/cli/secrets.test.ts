/**
 * The key that encrypts endpoint secrets, as an operator's scripts meet it through the built `tpcs`:
 * `serve` on SQLite generates `<db>.key` (0600, with a warning) and delivers signed with the right
 * secret; `tpcs secrets rotate-key` re-encrypts under a new key (endpoint secrets, the partners'
 * notification secrets for failure alerts, stored answers), says how many, does nothing the second
 * time, and the service then runs on the new key alone, its deliveries and alerts signed with the same
 * secrets; PostgreSQL without a key, and a key that is not one, are usage errors (exit 2); a database
 * under another key is refused (exit 1).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseKey } from '../../src/secrets/index.js';
import { createVerifier } from '../../src/signing/index.js';
import { openStorage } from '../../src/storage/index.js';
import { validThirdParty } from '../customers/fixtures.js';
import { buildIsFresh } from '../support/build.js';
import { waitFor } from '../support/wait-for.js';
import { api, localServer, startServe, tpcs } from './processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CUSTOMER = '0201001008132685';
const keyText = () => randomBytes(32).toString('base64');

/** Every value of the three encrypted columns, read with plain SQL. */
function storedValues(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return [
      ...db.prepare<[], string>('SELECT secret FROM endpoint_secrets').pluck().all(),
      ...db.prepare<[], string>('SELECT body FROM idempotency_keys').pluck().all(),
      ...db
        .prepare<[], string>(
          'SELECT webhook_secret FROM notification_settings WHERE webhook_secret IS NOT NULL',
        )
        .pluck()
        .all(),
    ];
  } finally {
    db.close();
  }
}

beforeAll(() => {
  if (!buildIsFresh()) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
}, 180_000);

describe('tpcs and the secrets key', () => {
  it('serve generates the SQLite key file; rotate-key moves everything to a new one; delivery stays signed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tpcs-secrets-cli-'));
    const file = join(dir, 'tpcs.db');
    const env = { DATABASE_URL: `sqlite:${file}` };
    const receiver = await localServer();
    try {
      let serve = await startServe(env);
      const output = () => serve.output.stdout + serve.output.stderr;
      expect(output()).toContain(`Generated the secrets key ${file}.key`);
      for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}.key`]) {
        expect(statSync(f).mode & 0o777, f).toBe(0o600);
      }
      const firstKeyId = parseKey(readFileSync(`${file}.key`, 'utf8')).id;

      const token = (
        await api(serve.base, 'POST', '/api/v1/admin/partners', serve.adminToken, { customer_id: CUSTOMER })
      ).body.token as string;
      const created = await api(serve.base, 'POST', `/api/v1/customers/${CUSTOMER}/webhooks`, token, {
        url: `${receiver.url}/hook`,
        event_types: ['THIRD PARTY CUSTOMER STATUS'],
      });
      const secret = created.body.secret as string;
      // failure alerts to the same receiver, signed with a notification secret of their own
      const notifications = await api(
        serve.base,
        'PUT',
        `/api/v1/customers/${CUSTOMER}/notifications`,
        token,
        {
          webhook_url: `${receiver.url}/alerts`,
          email: null,
        },
      );
      expect(notifications.status).toBe(200);
      const alertSecret = notifications.body.secret as string;
      expect(alertSecret).toMatch(/^whsec_/);
      const to = (path: string) => receiver.received.filter((r) => r.url === path);
      const decide = async (base: string, status: 'APPROVED' | 'REJECTED') => {
        const res = await api(
          base,
          'POST',
          `/api/v1/admin/customers/${CUSTOMER}/third-parties/CUST_1/decision`,
          serve.adminToken,
          {
            status,
            ...(status === 'REJECTED'
              ? { reasons: [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'failed' }] }
              : {}),
          },
        );
        expect(res.status).toBe(200);
      };
      await api(
        serve.base,
        'POST',
        `/api/v1/customers/${CUSTOMER}/third-parties`,
        token,
        validThirdParty('CUST_1'),
      );
      await decide(serve.base, 'APPROVED');
      await waitFor(() => to('/hook').length === 1, { what: 'the first delivery' });
      const verify = createVerifier([secret]);
      expect(verify(to('/hook')[0]?.headers ?? {}, to('/hook')[0]?.body ?? '')).toMatchObject({
        ok: true,
      });
      expect(storedValues(file)).toHaveLength(2); // the endpoint's secret and the notification secret
      for (const value of storedValues(file)) {
        expect(value.startsWith(`v1:${firstKeyId}:`)).toBe(true);
        expect(value).not.toContain(secret.slice(6));
        expect(value).not.toContain(alertSecret.slice(6));
      }
      serve.child.kill('SIGTERM');
      await serve.exited;

      // the procedure in `tpcs secrets rotate-key --help` for the generated key file
      renameSync(`${file}.key`, `${file}.key.old`);
      const oldKey = readFileSync(`${file}.key.old`, 'utf8').trim();
      const rotated = await tpcs(['secrets', 'rotate-key'], { env: { ...env, SECRETS_OLD_KEYS: oldKey } });
      expect(rotated.stderr).toBe('');
      expect(rotated.code).toBe(0);
      expect(rotated.stdout).toContain(`generated a new key in ${file}.key (mode 0600)`);
      const newKeyId = parseKey(readFileSync(`${file}.key`, 'utf8')).id;
      expect(newKeyId).not.toBe(firstKeyId);
      expect(rotated.stdout).toMatch(
        new RegExp(
          `re-encrypted 1 endpoint secret\\(s\\), 1 notification secret\\(s\\) and \\d+ stored answer\\(s\\) under key ${newKeyId}`,
        ),
      );
      for (const value of storedValues(file)) expect(value.startsWith(`v1:${newKeyId}:`)).toBe(true);
      const again = await tpcs(['secrets', 'rotate-key'], { env: { ...env, SECRETS_OLD_KEYS: oldKey } });
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(
        're-encrypted 0 endpoint secret(s), 0 notification secret(s) and 0 stored answer(s)',
      );

      // the new key alone: the service starts quietly and signs with the same secrets, the alert about
      // an endpoint nobody answers included
      serve = await startServe(env);
      expect(output()).not.toContain('Generated the secrets key');
      const down = await api(serve.base, 'POST', `/api/v1/customers/${CUSTOMER}/webhooks`, token, {
        url: 'http://127.0.0.1:9/down',
        event_types: ['THIRD PARTY CUSTOMER STATUS'],
      });
      expect(down.status).toBe(201);
      await decide(serve.base, 'REJECTED');
      await waitFor(() => to('/hook').length === 2, { what: 'the delivery after the rotation' });
      expect(verify(to('/hook')[1]?.headers ?? {}, to('/hook')[1]?.body ?? '')).toMatchObject({
        ok: true,
      });
      const [alert] = await waitFor(() => to('/alerts').length > 0 && to('/alerts'), {
        what: 'the alert about http://127.0.0.1:9/down',
      });
      expect(createVerifier([alertSecret])(alert?.headers ?? {}, alert?.body ?? '')).toMatchObject({
        ok: true,
      });
      expect(JSON.parse(String(alert?.body))).toMatchObject({
        event_type: 'endpoint.failing',
        data: { url: 'http://127.0.0.1:9/down' },
      });
      serve.child.kill('SIGTERM');
      await serve.exited;
    } finally {
      await receiver.close();
    }
  });

  it('rotate-key with SECRETS_KEY: refuses a database under another key, then re-encrypts with the old key given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tpcs-secrets-cli-'));
    const file = join(dir, 'tpcs.db');
    const [oldKey, newKey] = [keyText(), keyText()];
    const seeded = await openStorage(`sqlite:${file}`, { secrets: { key: oldKey } });
    await seeded.store.createPartner({
      customerId: CUSTOMER,
      name: null,
      tokenHash: 'h',
      createdAt: new Date(),
    });
    await seeded.store.createEndpoint({
      id: 'wh_1',
      customerId: CUSTOMER,
      url: 'http://127.0.0.1:9/hook',
      description: null,
      eventTypes: ['THIRD PARTY CUSTOMER STATUS'],
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      createdAt: new Date(),
    });
    await seeded.store.saveNotificationSettings({
      customerId: CUSTOMER,
      webhookUrl: 'http://127.0.0.1:9/alerts',
      webhookSecret: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD',
      email: null,
      events: ['endpoint.failing'],
      updatedAt: new Date(),
    });
    await seeded.close();
    const env = { DATABASE_URL: `sqlite:${file}` };

    const refused = await tpcs(['secrets', 'rotate-key'], { env: { ...env, SECRETS_KEY: newKey } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`encrypted under key ${parseKey(oldKey).id}`);

    const rotated = await tpcs(['secrets', 'rotate-key', '--json'], {
      env: { ...env, SECRETS_KEY: newKey, SECRETS_OLD_KEYS: oldKey },
    });
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({
      key_id: parseKey(newKey).id,
      key_file_generated: null,
      reencrypted: { endpoint_secrets: 1, notification_secrets: 1, idempotent_answers: 0 },
    });
    // the same key from a file (a mounted Docker or Kubernetes secret): nothing left to do
    writeFileSync(join(dir, 'key'), `${newKey}\n`);
    const fromFile = await tpcs(['secrets', 'rotate-key', '--json'], {
      env: { ...env, SECRETS_KEY_FILE: join(dir, 'key') },
    });
    expect(JSON.parse(fromFile.stdout)).toMatchObject({
      reencrypted: { endpoint_secrets: 0, notification_secrets: 0 },
    });
    expect(existsSync(`${file}.key`)).toBe(false);

    const reopened = await openStorage(`sqlite:${file}`, { secrets: { key: newKey } });
    expect((await reopened.store.getEndpoint(CUSTOMER, 'wh_1'))?.secrets[0]?.secret).toBe(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    );
    expect((await reopened.store.getNotificationSettings(CUSTOMER))?.webhookSecret).toBe(
      'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD',
    );
    await reopened.close();
  });

  it('PostgreSQL without a key, a key that is not 32 bytes, or two keys at once: exit 2, nothing attempted', async () => {
    // port 1: nothing listens, so any attempt to connect would fail with exit 1 instead
    const postgres = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' };
    for (const args of [['serve'], ['worker'], ['secrets', 'rotate-key']]) {
      const run = await tpcs(args, { env: postgres });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toContain('PostgreSQL needs SECRETS_KEY (--secrets-key) or SECRETS_KEY_FILE');
    }
    const short = await tpcs(['secrets', 'rotate-key', '--secrets-key', 'c2hvcnQ='], { env: postgres });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('expected 32 bytes written as base64');
    const both = await tpcs(['secrets', 'rotate-key'], {
      env: { ...postgres, SECRETS_KEY: keyText(), SECRETS_KEY_FILE: '/nonexistent' },
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
  });
});
