import type pg from 'pg';
import { type SecretBox, secretContext } from '../../secrets/box.js';
import { decodeKeyCursor, toKeyPage } from '../key-cursor.js';
import type {
  CursorPage,
  Endpoint,
  EndpointCreation,
  EndpointPatch,
  EndpointUpdate,
  NewEndpoint,
} from '../store.js';
import { type Queryable, statement, withTransaction } from './db.js';
import type { Row } from './tables.js';

type EndpointColumns = Omit<Row<'endpoints'>, 'failing_since' | 'rate_tat'>;
/** An endpoint row joined with one of its unexpired secrets (secret columns null when it has none). */
type EndpointSecretRow = EndpointColumns & {
  secret: string | null;
  secret_created_at: Date | null;
  secret_expires_at: Date | null;
};

const ENDPOINT_COLUMNS =
  'id, customer_id, url, description, event_types, enabled, disabled_reason, disabled_at, rate_limit, created_at, updated_at';
const qualify = (table: string, columns: string): string =>
  columns
    .split(', ')
    .map((c) => `${table}.${c}`)
    .join(', ');
const e = (columns: string): string => qualify('e', columns);

/**
 * Groups joined rows (ordered by endpoint, then secret newest first) into endpoints, keeping order;
 * each secret is decrypted (it is stored encrypted, bound to its endpoint).
 */
function toEndpoints(rows: EndpointSecretRow[], box: SecretBox): Endpoint[] {
  const byId = new Map<string, Endpoint>();
  for (const r of rows) {
    let endpoint = byId.get(r.id);
    if (!endpoint) {
      endpoint = {
        id: r.id,
        customerId: r.customer_id,
        url: r.url,
        description: r.description,
        eventTypes: r.event_types,
        enabled: r.enabled,
        disabledReason: r.disabled_reason,
        disabledAt: r.disabled_at,
        rateLimit: r.rate_limit,
        secrets: [],
        createdAt: r.created_at,
        updatedAt: r.updated_at,
      };
      byId.set(r.id, endpoint);
    }
    if (r.secret !== null && r.secret_created_at !== null) {
      endpoint.secrets.push({
        secret: box.open(r.secret, secretContext.endpoint(r.id)),
        createdAt: r.secret_created_at,
        expiresAt: r.secret_expires_at,
      });
    }
  }
  return [...byId.values()];
}

// $n is the "now" that decides which secrets have expired
const secretsJoin = (now: string): string => `
  LEFT JOIN endpoint_secrets s ON s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > ${now})`;
const SECRET_COLUMNS = 's.secret, s.created_at AS secret_created_at, s.expires_at AS secret_expires_at';

const insert = statement(
  'endpoint_insert',
  `WITH e AS (
     INSERT INTO endpoints (id, customer_id, url, description, event_types, created_at, updated_at, rate_limit)
     VALUES ($1, $2, $3, $4, $5::text[], $6, $6, $8::int)
     RETURNING id
   )
   INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) SELECT e.id, $7, $6 FROM e`,
);
const one = statement<EndpointSecretRow>(
  'endpoint_get',
  `SELECT ${e(ENDPOINT_COLUMNS)}, ${SECRET_COLUMNS}
   FROM endpoints e ${secretsJoin('$3')}
   WHERE e.customer_id = $1 AND e.id = $2
   ORDER BY s.created_at DESC, s.id DESC`,
);
const all = statement<EndpointSecretRow>(
  'endpoint_list',
  `SELECT ${e(ENDPOINT_COLUMNS)}, ${SECRET_COLUMNS}
   FROM endpoints e ${secretsJoin('$2')}
   WHERE e.customer_id = $1
   ORDER BY e.created_at, e.id, s.created_at DESC, s.id DESC`,
);
// a page: the endpoints after the cursor's (created_at, id), oldest first, then their secrets
const page = statement<EndpointSecretRow>(
  'endpoint_page',
  `SELECT ${e(ENDPOINT_COLUMNS)}, ${SECRET_COLUMNS}
   FROM (
     SELECT ${ENDPOINT_COLUMNS} FROM endpoints
     WHERE customer_id = $1 AND ($3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::text))
     ORDER BY created_at, id
     LIMIT $5
   ) e ${secretsJoin('$2')}
   ORDER BY e.created_at, e.id, s.created_at DESC, s.id DESC`,
);
const countOf = statement<{ n: number }>(
  'endpoint_count',
  'SELECT count(*)::int AS n FROM endpoints WHERE customer_id = $1',
);
/**
 * Second key of the advisory lock that serialises one partner's endpoint creations and URL changes
 * (the cap, and one endpoint per URL).
 */
const CREATE_LOCK = 1953523559;
const lockPartnerEndpoints = (client: pg.PoolClient, customerId: string) =>
  client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CREATE_LOCK, customerId]);
// the partner's oldest endpoint other than $3 with the URL $2 (existing databases may hold several)
const sameUrl = statement<{ id: string }>(
  'endpoint_same_url',
  `SELECT id FROM endpoints WHERE customer_id = $1 AND url = $2 AND id <> $3
   ORDER BY created_at, id LIMIT 1`,
);
const exists = statement('endpoint_exists', 'SELECT 1 FROM endpoints WHERE customer_id = $1 AND id = $2');
// one statement for every patch shape: each column changes only when its flag is true; the secrets
// are read in the same statement (the UPDATE does not touch them, so its snapshot shows them as they are).
// A re-enable with $15 (deliver the backlog) also queues, in event order, a delivery for every event of
// the partner of the (new) subscribed types emitted since the endpoint was disabled that has none to it
// yet; the insert trigger sets each one's head, seeing the rows inserted before it.
const update = statement<EndpointSecretRow & { backfilled: number }>(
  'endpoint_update',
  `WITH old AS (
     SELECT id, enabled, disabled_at FROM endpoints WHERE customer_id = $1 AND id = $2 FOR UPDATE
   ), e AS (
     UPDATE endpoints n SET
       url = CASE WHEN $3::boolean THEN $4::text ELSE n.url END,
       description = CASE WHEN $5::boolean THEN $6::text ELSE n.description END,
       event_types = CASE WHEN $7::boolean THEN $8::text[] ELSE n.event_types END,
       enabled = CASE WHEN $9::boolean THEN $10::boolean ELSE n.enabled END,
       disabled_reason = CASE WHEN $11::boolean THEN $12::text
                              WHEN $9::boolean THEN NULL ELSE n.disabled_reason END,
       disabled_at = CASE WHEN NOT $9::boolean THEN n.disabled_at
                          WHEN $10::boolean THEN NULL
                          WHEN n.enabled THEN $13 ELSE n.disabled_at END,
       failing_since = CASE WHEN $9::boolean AND $10::boolean THEN NULL ELSE n.failing_since END,
       -- a new limit starts with a whole burst: the budget spent under the old one does not carry over
       rate_tat = CASE WHEN $16::boolean AND n.rate_limit IS DISTINCT FROM $17::int THEN NULL ELSE n.rate_tat END,
       rate_limit = CASE WHEN $16::boolean THEN $17::int ELSE n.rate_limit END,
       updated_at = $13
     FROM old
     WHERE n.id = old.id
     RETURNING ${qualify('n', ENDPOINT_COLUMNS)}, old.enabled AS was_enabled, old.disabled_at AS was_disabled_at
   ), backfill AS (
     INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
       next_attempt_at, created_at, updated_at)
     SELECT tpcs_uuid7(), ev.event_id, ev.seq, e.id, e.customer_id, ev.client_customer_ref,
       $13, $13, $13
     FROM e JOIN events ev ON ev.customer_id = e.customer_id
     WHERE $15::boolean AND e.enabled AND NOT e.was_enabled
       AND ev.created_at >= e.was_disabled_at AND ev.event_type = ANY (e.event_types)
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id AND d.event_id = ev.event_id)
     ORDER BY ev.seq
     RETURNING 1
   )
   SELECT ${e(ENDPOINT_COLUMNS)}, ${SECRET_COLUMNS}, (SELECT count(*) FROM backfill)::int AS backfilled
   FROM e ${secretsJoin('$14')}
   ORDER BY s.created_at DESC, s.id DESC`,
);
// FOR UPDATE conflicts with the KEY SHARE lock a decision's fan-out takes on a disabled endpoint
const lockForReopen = statement(
  'endpoint_lock_for_reopen',
  'SELECT 1 FROM endpoints WHERE customer_id = $1 AND id = $2 FOR UPDATE',
);
const remove = statement('endpoint_delete', 'DELETE FROM endpoints WHERE customer_id = $1 AND id = $2');
// locks the endpoint row, so two rotations of one endpoint run one after the other
const touch = statement<{ id: string }>(
  'endpoint_touch',
  'UPDATE endpoints SET updated_at = $3 WHERE customer_id = $1 AND id = $2 RETURNING id',
);
const expireCurrent = statement(
  'endpoint_secret_expire',
  'UPDATE endpoint_secrets SET expires_at = $2 WHERE endpoint_id = $1 AND expires_at IS NULL',
);
const insertSecret = statement(
  'endpoint_secret_insert',
  'INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)',
);

/** One statement: the endpoint and its first secret (encrypted by `box`). */
export async function createEndpoint(db: Queryable, box: SecretBox, n: NewEndpoint): Promise<Endpoint> {
  const sealed = box.seal(n.secret, secretContext.endpoint(n.id));
  await insert.run(db, [
    n.id,
    n.customerId,
    n.url,
    n.description,
    n.eventTypes,
    n.createdAt,
    sealed,
    n.rateLimit ?? null,
  ]);
  return {
    id: n.id,
    customerId: n.customerId,
    url: n.url,
    description: n.description,
    eventTypes: [...n.eventTypes],
    enabled: true,
    disabledReason: null,
    disabledAt: null,
    rateLimit: n.rateLimit ?? null,
    secrets: [{ secret: n.secret, createdAt: n.createdAt, expiresAt: null }],
    createdAt: n.createdAt,
    updatedAt: n.createdAt,
  };
}

/**
 * {@link createEndpoint} unless another endpoint of the partner has its URL or the partner already has
 * `max` endpoints. Both are checked under a transaction-scoped advisory lock per partner, so concurrent
 * creates (and URL changes) of one partner run one after the other and cannot pass either together.
 */
export async function createEndpointWithinLimit(
  pool: pg.Pool,
  box: SecretBox,
  n: NewEndpoint,
  max: number,
): Promise<EndpointCreation> {
  return withTransaction(pool, async (client): Promise<EndpointCreation> => {
    await lockPartnerEndpoints(client, n.customerId);
    const taken = (await sameUrl.run(client, [n.customerId, n.url, n.id])).rows[0];
    if (taken) return { outcome: 'url_taken', endpointId: taken.id };
    const count = (await countOf.run(client, [n.customerId])).rows[0]?.n ?? 0;
    if (count >= max) return { outcome: 'limit_reached' };
    return { outcome: 'created', endpoint: await createEndpoint(client, box, n) };
  });
}

/** The endpoint with its secrets not yet expired (newest first). */
export async function getEndpoint(
  db: Queryable,
  box: SecretBox,
  customerId: string,
  id: string,
): Promise<Endpoint | undefined> {
  return toEndpoints((await one.run(db, [customerId, id, new Date()])).rows, box)[0];
}

/** The partner's endpoints, oldest first. */
export async function listEndpoints(db: Queryable, box: SecretBox, customerId: string): Promise<Endpoint[]> {
  return toEndpoints((await all.run(db, [customerId, new Date()])).rows, box);
}

/** A page of the partner's endpoints, oldest first; see `Store.listEndpointPage`. */
export async function listEndpointPage(
  db: Queryable,
  box: SecretBox,
  customerId: string,
  q: { limit: number; cursor?: string },
): Promise<CursorPage<Endpoint>> {
  const after = q.cursor === undefined ? undefined : decodeKeyCursor(q.cursor);
  const { rows } = await page.run(db, [
    customerId,
    new Date(),
    after?.at ?? null,
    after?.id ?? '',
    q.limit + 1,
  ]);
  return toKeyPage(toEndpoints(rows, box), q.limit);
}

/**
 * Applies the patch in one statement; a patch with a URL first takes the partner's advisory lock (as
 * {@link createEndpointWithinLimit} does) and is refused when another endpoint has that URL.
 */
export async function updateEndpoint(
  pool: pg.Pool,
  box: SecretBox,
  customerId: string,
  id: string,
  p: EndpointPatch,
  at: Date,
): Promise<EndpointUpdate> {
  const url = p.url;
  // A re-enable locks the endpoint row before the statement whose backfill reads the events: a decision
  // that saw it disabled holds a KEY SHARE lock on it until its commit (decisions.ts, FAN_OUT), so the
  // backfill's snapshot, taken after the wait, includes that decision's event.
  const reopening = p.enabled === true;
  if (url === undefined && !reopening) return patchEndpoint(pool, box, customerId, id, p, at);
  return withTransaction(pool, async (client): Promise<EndpointUpdate> => {
    // the partner's advisory lock first, then the row, as a PATCH without the re-enable takes them
    if (url !== undefined) await lockPartnerEndpoints(client, customerId);
    if (reopening) await lockForReopen.run(client, [customerId, id]);
    if (url === undefined) return patchEndpoint(client, box, customerId, id, p, at);
    const taken = (await sameUrl.run(client, [customerId, url, id])).rows[0];
    if (taken) {
      if ((await exists.run(client, [customerId, id])).rowCount !== 1) return { outcome: 'not_found' };
      return { outcome: 'url_taken', endpointId: taken.id };
    }
    return patchEndpoint(client, box, customerId, id, p, at);
  });
}

async function patchEndpoint(
  db: Queryable,
  box: SecretBox,
  customerId: string,
  id: string,
  p: EndpointPatch,
  at: Date,
): Promise<EndpointUpdate> {
  const { rows } = await update.run(db, [
    customerId,
    id,
    p.url !== undefined,
    p.url ?? null,
    p.description !== undefined,
    p.description ?? null,
    p.eventTypes !== undefined,
    p.eventTypes ?? null,
    p.enabled !== undefined,
    p.enabled ?? true,
    p.disabledReason !== undefined,
    p.disabledReason ?? null,
    at,
    new Date(),
    p.enabled === true && p.backlog !== 'skip',
    p.rateLimit !== undefined,
    p.rateLimit ?? null,
  ]);
  const endpoint = toEndpoints(rows, box)[0];
  return endpoint
    ? { outcome: 'updated', endpoint, backfilled: rows[0]?.backfilled ?? 0 }
    : { outcome: 'not_found' };
}

/** Secrets, deliveries and their attempts go with it (ON DELETE CASCADE). */
export async function deleteEndpoint(db: Queryable, customerId: string, id: string): Promise<boolean> {
  return (await remove.run(db, [customerId, id])).rowCount === 1;
}

/** In one transaction: the current secret expires at `oldExpiresAt`, the new one becomes current. */
export async function rotateEndpointSecret(
  pool: pg.Pool,
  box: SecretBox,
  customerId: string,
  id: string,
  secret: string,
  at: Date,
  oldExpiresAt: Date,
): Promise<Endpoint | undefined> {
  const sealed = box.seal(secret, secretContext.endpoint(id));
  return withTransaction(pool, async (client) => {
    if ((await touch.run(client, [customerId, id, at])).rowCount !== 1) return undefined;
    await expireCurrent.run(client, [id, oldExpiresAt]);
    await insertSecret.run(client, [id, sealed, at]);
    return getEndpoint(client, box, customerId, id);
  });
}
