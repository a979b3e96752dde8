/**
 * Endpoint signing secrets at rest, on both databases, read back with raw SQL: neither
 * `endpoint_secrets` nor `idempotency_keys` ever holds a secret in plaintext (after the API's create
 * and rotate, after the upgrade of a database written before encryption), deliveries are claimed with
 * the right secrets, a wrong key stops the start, an altered or moved value is refused, and a key
 * rotation leaves everything readable with the new key alone. SQLite files are 0600.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { generateToken, hashToken } from '../../src/http/auth.js';
import {
  parseKey,
  SecretDecryptionError,
  SecretsKeyMismatchError,
  SecretsKeyMissingError,
  type SecretsKeySource,
} from '../../src/secrets/index.js';
import { openStorage, type Storage } from '../../src/storage/index.js';
import {
  migrate as migratePostgres,
  migrations as postgresMigrations,
} from '../../src/storage/postgres/migrations.js';
import {
  migrate as migrateSqlite,
  migrations as sqliteMigrations,
} from '../../src/storage/sqlite/migrations.js';
import { validThirdParty } from '../customers/fixtures.js';
import {
  connectToSchema,
  DIALECTS,
  type Dialect,
  type FreshDatabaseUrl,
  freshUrl,
  PG_URL,
  skipReason,
} from '../support/databases.js';

const PARTNER = '0201001008132685';
const keyText = () => randomBytes(32).toString('base64');
const kid = (key: string) => parseKey(key).id;

/** Plain SQL on the test's database, beside the storage: what an attacker with the file or a dump sees. */
interface Raw {
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

async function rawSql(dialect: Dialect, url: string): Promise<Raw> {
  if (dialect === 'sqlite') {
    const db = new Database(url.slice('sqlite:'.length));
    return {
      async all(sql, params = []) {
        const statement = db.prepare(sql.replace(/\$\d+/g, '?'));
        if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
        statement.run(...params);
        return [];
      },
      async close() {
        db.close();
      },
    };
  }
  const client = await connectToSchema(url);
  return {
    async all(sql, params = []) {
      return (await client.query(sql, params)).rows as Record<string, unknown>[];
    },
    async close() {
      await client.end();
    },
  };
}

/** Everything stored in the two encrypted columns. */
async function storedValues(raw: Raw): Promise<{ secrets: string[]; answers: string[] }> {
  const secrets = (await raw.all('SELECT secret FROM endpoint_secrets ORDER BY id')).map((r) =>
    String(r.secret),
  );
  const answers = (await raw.all('SELECT body FROM idempotency_keys ORDER BY key')).map((r) =>
    String(r.body),
  );
  return { secrets, answers };
}

/** The app on a storage, with an operator token and a partner. */
async function serviceOn(storage: Storage) {
  const admin = generateToken('admin');
  const app: FastifyInstance = buildApp({
    store: storage.store,
    adminTokenHash: hashToken(admin),
    allowPrivateEndpoints: true,
  });
  await app.ready();
  const call = async (method: 'GET' | 'POST', url: string, token: string, body?: unknown, key?: string) => {
    const res = await app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key === undefined ? {} : { 'idempotency-key': key }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return { status: res.statusCode, replayed: res.headers['idempotent-replayed'], body: res.json() };
  };
  return { app, admin, call };
}

const HOOKS = `/api/v1/customers/${PARTNER}/webhooks`;
const CLAIM = { workerId: 'test', leaseMs: 60_000, limit: 10, perEndpoint: 8 };

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`secrets at rest (${dialect})`, () => {
    const databases: FreshDatabaseUrl[] = [];
    const opened = new Set<Storage>();
    afterAll(async () => {
      for (const s of opened) await s.close();
      for (const d of databases) await d.drop();
    });
    const fresh = async (): Promise<string> => {
      const d = await freshUrl(dialect);
      databases.push(d);
      return d.url;
    };
    const open = async (url: string, secrets: SecretsKeySource): Promise<Storage> => {
      const s = await openStorage(url, { secrets });
      opened.add(s);
      return s;
    };
    const close = async (s: Storage) => {
      opened.delete(s);
      await s.close();
    };

    /** A partner with an endpoint whose secret was rotated once, and a pending delivery to it. */
    async function seeded(url: string, key: string) {
      const storage = await open(url, { key });
      const { app, admin, call } = await serviceOn(storage);
      const partner = await call('POST', '/api/v1/admin/partners', admin, { customer_id: PARTNER });
      const token = partner.body.token as string;
      const created = await call(
        'POST',
        HOOKS,
        token,
        { url: 'http://127.0.0.1:9/hook', event_types: ['THIRD PARTY CUSTOMER STATUS'] },
        'create-1',
      );
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const rotated = await call('POST', `${HOOKS}/${id}/rotate-secret`, token, {}, 'rotate-1');
      expect(rotated.status).toBe(200);
      await call('POST', `/api/v1/customers/${PARTNER}/third-parties`, token, validThirdParty('CUST_001'));
      const decided = await call(
        'POST',
        `/api/v1/admin/customers/${PARTNER}/third-parties/CUST_001/decision`,
        admin,
        {
          status: 'APPROVED',
        },
      );
      expect(decided.status).toBe(200);
      return {
        storage,
        app,
        call,
        token,
        id,
        first: created.body.secret as string,
        second: rotated.body.secret as string,
      };
    }

    it('answers the secret on create and rotate, stores it only encrypted, and replays the same answer', async () => {
      const url = await fresh();
      const key = keyText();
      const s = await seeded(url, key);
      expect(s.first).toMatch(/^whsec_/);
      expect(s.second).toMatch(/^whsec_/);

      const raw = await rawSql(dialect, url);
      try {
        const { secrets, answers } = await storedValues(raw);
        expect(secrets).toHaveLength(2);
        expect(answers.length).toBeGreaterThanOrEqual(2);
        for (const value of [...secrets, ...answers]) {
          expect(value.startsWith(`v1:${kid(key)}:`), value).toBe(true);
          for (const plain of [s.first, s.second, s.first.slice(6), s.second.slice(6), 'whsec_']) {
            expect(value).not.toContain(plain);
          }
        }
        // the database itself refuses a plaintext secret (migration 005/009)
        await expect(
          raw.all('INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)', [
            s.id,
            'whsec_plaintext',
            dialect === 'sqlite' ? Date.now() : new Date(),
          ]),
        ).rejects.toThrow(/encrypted/);
      } finally {
        await raw.close();
      }

      // a retry with the same Idempotency-Key gets the same secret back
      const again = await s.call(
        'POST',
        HOOKS,
        s.token,
        { url: 'http://127.0.0.1:9/hook', event_types: ['THIRD PARTY CUSTOMER STATUS'] },
        'create-1',
      );
      expect(again).toMatchObject({ status: 201, replayed: 'true', body: { id: s.id, secret: s.first } });
      const rotatedAgain = await s.call('POST', `${HOOKS}/${s.id}/rotate-secret`, s.token, {}, 'rotate-1');
      expect(rotatedAgain).toMatchObject({ status: 200, replayed: 'true', body: { secret: s.second } });

      // the store and the dispatcher's claim read them decrypted, newest first
      expect((await s.storage.store.getEndpoint(PARTNER, s.id))?.secrets.map((x) => x.secret)).toEqual([
        s.second,
        s.first,
      ]);
      const claimed = await s.storage.queue.claim({ ...CLAIM, now: new Date() });
      expect(claimed).toHaveLength(1);
      expect(claimed[0]?.secrets).toEqual([s.second, s.first]);
      await s.app.close();
    });

    it('refuses to start with a wrong key, and refuses an altered or moved value instead of using it', async () => {
      const url = await fresh();
      const key = keyText();
      const s = await seeded(url, key);
      await s.app.close();
      await close(s.storage);

      const wrong = keyText();
      const refused = openStorage(url, { secrets: { key: wrong } });
      await expect(refused).rejects.toBeInstanceOf(SecretsKeyMismatchError);
      await expect(openStorage(url, { secrets: { key: wrong } })).rejects.toThrow(
        new RegExp(`encrypted under key ${kid(key)}.*configured key is ${kid(wrong)}`),
      );

      const raw = await rawSql(dialect, url);
      try {
        // one character of the current secret's ciphertext changed: still v1, same key id
        const [row] = await raw.all('SELECT id, secret FROM endpoint_secrets ORDER BY id DESC');
        const stored = String(row?.secret);
        const altered = `${stored.slice(0, -3)}${stored.at(-3) === 'A' ? 'B' : 'A'}${stored.slice(-2)}`;
        await raw.all('UPDATE endpoint_secrets SET secret = $1 WHERE id = $2', [altered, row?.id]);
        const storage = await open(url, { key });
        await expect(storage.store.getEndpoint(PARTNER, s.id)).rejects.toBeInstanceOf(SecretDecryptionError);
        await expect(storage.queue.claim({ ...CLAIM, now: new Date() })).rejects.toThrow(
          /failed authentication/,
        );
        await close(storage);

        // another endpoint's genuine value, moved into this endpoint's row
        const other = await open(url, { key });
        const otherEndpoint = await other.store.createEndpoint({
          id: 'wh_other',
          customerId: PARTNER,
          url: 'http://127.0.0.1:9/other',
          description: null,
          eventTypes: ['THIRD PARTY CUSTOMER STATUS'],
          secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
          createdAt: new Date(),
        });
        await close(other);
        const [moved] = await raw.all('SELECT secret FROM endpoint_secrets WHERE endpoint_id = $1', [
          otherEndpoint.id,
        ]);
        await raw.all('UPDATE endpoint_secrets SET secret = $1 WHERE id = $2', [moved?.secret, row?.id]);
        const again = await open(url, { key });
        await expect(again.store.getEndpoint(PARTNER, s.id)).rejects.toThrow(/belongs to another row/);
        expect((await again.store.getEndpoint(PARTNER, otherEndpoint.id))?.secrets[0]?.secret).toBe(
          'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        );
      } finally {
        await raw.close();
      }
    });

    it('re-encrypts every value under a new key; afterwards the new key alone reads them all', async () => {
      const url = await fresh();
      const [oldKey, newKey] = [keyText(), keyText()];
      const s = await seeded(url, oldKey);
      await s.app.close();
      await close(s.storage);

      const rotating = await open(url, { key: newKey, oldKeys: [oldKey] });
      const counts = await rotating.rotateSecretsKey();
      expect(counts.endpointSecrets).toBe(2);
      expect(counts.idempotentAnswers).toBeGreaterThanOrEqual(2);
      expect(await rotating.rotateSecretsKey()).toEqual({
        endpointSecrets: 0,
        idempotentAnswers: 0,
        notificationSecrets: 0,
      });
      await close(rotating);

      const raw = await rawSql(dialect, url);
      try {
        const { secrets, answers } = await storedValues(raw);
        for (const value of [...secrets, ...answers])
          expect(value.startsWith(`v1:${kid(newKey)}:`), value).toBe(true);
      } finally {
        await raw.close();
      }

      const after = await open(url, { key: newKey });
      expect((await after.store.getEndpoint(PARTNER, s.id))?.secrets.map((x) => x.secret)).toEqual([
        s.second,
        s.first,
      ]);
      expect((await after.queue.claim({ ...CLAIM, now: new Date() }))[0]?.secrets).toEqual([
        s.second,
        s.first,
      ]);
      const { call } = await serviceOn(after);
      const replay = await call('POST', `${HOOKS}/${s.id}/rotate-secret`, s.token, {}, 'rotate-1');
      expect(replay).toMatchObject({ status: 200, replayed: 'true', body: { secret: s.second } });
      await expect(openStorage(url, { secrets: { key: oldKey } })).rejects.toBeInstanceOf(
        SecretsKeyMismatchError,
      );
    });

    it('encrypts secrets stored in plaintext by an earlier version at the first start with a key', async () => {
      const url = await fresh();
      const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
      const answer = JSON.stringify({ id: 'wh_legacy', secret });
      await writeBeforeEncryption(dialect, url, secret, answer);

      const key = keyText();
      const storage = await open(url, { key });
      expect(storage.applied).toContain(
        dialect === 'sqlite' ? '005_encrypted_secrets' : '009_encrypted_secrets',
      );
      expect(storage.secrets.encrypted).toEqual({
        endpointSecrets: 1,
        idempotentAnswers: 1,
        notificationSecrets: 0,
      });
      const raw = await rawSql(dialect, url);
      try {
        const { secrets, answers } = await storedValues(raw);
        for (const value of [...secrets, ...answers]) {
          expect(value.startsWith(`v1:${kid(key)}:`)).toBe(true);
          expect(value).not.toContain(secret.slice(6));
        }
      } finally {
        await raw.close();
      }
      expect((await storage.store.getEndpoint(PARTNER, 'wh_legacy'))?.secrets[0]?.secret).toBe(secret);
      expect((await storage.store.getIdempotentResponse(PARTNER, 'legacy-key'))?.body).toBe(answer);
    });

    if (dialect === 'postgres') {
      it('opens PostgreSQL without a key (migrations run) but writes and reads no secret', async () => {
        const url = await fresh();
        const storage = await open(url, {});
        expect(storage.secrets.keyId).toBeUndefined();
        await storage.store.createPartner({
          customerId: PARTNER,
          name: null,
          tokenHash: 'h',
          createdAt: new Date(),
        });
        await expect(
          storage.store.createEndpoint({
            id: 'wh_1',
            customerId: PARTNER,
            url: 'http://127.0.0.1:9/hook',
            description: null,
            eventTypes: ['THIRD PARTY CUSTOMER STATUS'],
            secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
            createdAt: new Date(),
          }),
        ).rejects.toThrow(SecretsKeyMissingError);
      });
    }

    if (dialect === 'sqlite') {
      it('generates the key file beside the database once, 0600 like the database, its WAL and shm', async () => {
        const url = await fresh();
        const file = url.slice('sqlite:'.length);
        const first = await open(url, {});
        expect(first.secrets).toMatchObject({ generated: true, keyFile: `${file}.key` });
        await first.store.createPartner({
          customerId: PARTNER,
          name: null,
          tokenHash: 'h',
          createdAt: new Date(),
        });
        for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}.key`]) {
          expect(statSync(f).mode & 0o777, f).toBe(0o600);
        }
        const second = await open(url, {});
        expect(second.secrets).toMatchObject({ generated: false, keyId: first.secrets.keyId });
      });

      it('tightens a database file created 0644 by an earlier version', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'tpcs-secrets-'));
        const file = join(dir, 'old.db');
        writeFileSync(file, '');
        chmodSync(file, 0o644);
        await open(`sqlite:${file}`, {});
        expect(statSync(file).mode & 0o777).toBe(0o600);
      });

      it('refuses a database copied without its key file, and makes no new key for it', async () => {
        const url = await fresh();
        const file = url.slice('sqlite:'.length);
        const s = await seeded(url, keyText());
        await s.app.close();
        await close(s.storage);
        const dir = mkdtempSync(join(tmpdir(), 'tpcs-secrets-'));
        copyFileSync(file, join(dir, 'tpcs.db'));
        await expect(openStorage(`sqlite:${join(dir, 'tpcs.db')}`)).rejects.toThrow(
          /encrypted under key .*tpcs\.db\.key did not exist/,
        );
        expect(existsSync(join(dir, 'tpcs.db.key'))).toBe(false);
      });
    }
  });
}

/**
 * A database as an earlier version left it: migrated up to the migration before encryption, with a
 * partner, an endpoint, its secret and a stored answer, all in plaintext.
 */
async function writeBeforeEncryption(dialect: Dialect, url: string, secret: string, answer: string) {
  if (dialect === 'sqlite') {
    const db = new Database(url.slice('sqlite:'.length));
    try {
      const before = sqliteMigrations.findIndex((m) => m.name === '005_encrypted_secrets');
      migrateSqlite(db, sqliteMigrations.slice(0, before));
      const now = Date.now();
      db.prepare('INSERT INTO partners (customer_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)').run(
        PARTNER,
        null,
        'h',
        now,
      );
      db.prepare(
        `INSERT INTO endpoints (id, customer_id, url, description, event_types, created_at, updated_at)
         VALUES ('wh_legacy', ?, 'http://127.0.0.1:9/hook', NULL, '["THIRD PARTY CUSTOMER STATUS"]', ?, ?)`,
      ).run(PARTNER, now, now);
      db.prepare('INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES (?, ?, ?)').run(
        'wh_legacy',
        secret,
        now,
      );
      db.prepare(
        `INSERT INTO idempotency_keys (customer_id, key, request_hash, status_code, body, created_at)
         VALUES (?, 'legacy-key', 'h', 201, ?, ?)`,
      ).run(PARTNER, answer, now);
    } finally {
      db.close();
    }
    return;
  }
  const schema = new URL(url).searchParams.get('schema') ?? undefined;
  const pool = new pg.Pool({ connectionString: PG_URL, options: `-c search_path=${schema}`, max: 1 });
  try {
    const before = postgresMigrations.findIndex((m) => m.name === '009_encrypted_secrets');
    await migratePostgres(pool, postgresMigrations.slice(0, before), schema);
    await pool.query(
      'INSERT INTO partners (customer_id, name, token_hash, created_at) VALUES ($1, NULL, $2, now())',
      [PARTNER, 'h'],
    );
    await pool.query(
      `INSERT INTO endpoints (id, customer_id, url, description, event_types, created_at, updated_at)
       VALUES ('wh_legacy', $1, 'http://127.0.0.1:9/hook', NULL, ARRAY['THIRD PARTY CUSTOMER STATUS'], now(), now())`,
      [PARTNER],
    );
    await pool.query(
      'INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, now())',
      ['wh_legacy', secret],
    );
    await pool.query(
      `INSERT INTO idempotency_keys (customer_id, key, request_hash, status_code, body, created_at)
       VALUES ($1, 'legacy-key', 'h', 201, $2, now())`,
      [PARTNER, answer],
    );
  } finally {
    await pool.end();
  }
}
