import type { Database } from 'better-sqlite3';
import { type SecretBox, secretContext } from '../../secrets/box.js';
import { newDeliveryId } from '../ids.js';
import { decodeKeyCursor, toKeyPage } from '../key-cursor.js';
import type {
  CursorPage,
  Endpoint,
  EndpointCreation,
  EndpointPatch,
  EndpointUpdate,
  NewEndpoint,
} from '../store.js';
import { type Row, toDate, toDateOrNull } from './tables.js';

/** An endpoint row joined with one of its unexpired secrets (secret columns null when it has none). */
type EndpointSecretRow = Row<'endpoints'> & {
  secret: string | null;
  secret_created_at: number | null;
  secret_expires_at: number | null;
};

/**
 * Groups joined rows (ordered by endpoint, then secret newest first) into endpoints, keeping order;
 * each secret is decrypted (it is stored encrypted, bound to its endpoint).
 */
function toEndpoints(rows: EndpointSecretRow[], box: SecretBox): Endpoint[] {
  const byId = new Map<string, Endpoint>();
  for (const r of rows) {
    let e = byId.get(r.id);
    if (!e) {
      e = {
        id: r.id,
        customerId: r.customer_id,
        url: r.url,
        description: r.description,
        eventTypes: JSON.parse(r.event_types) as string[],
        enabled: r.enabled === 1,
        disabledReason: r.disabled_reason,
        disabledAt: toDateOrNull(r.disabled_at),
        rateLimit: r.rate_limit,
        secrets: [],
        createdAt: toDate(r.created_at),
        updatedAt: toDate(r.updated_at),
      };
      byId.set(r.id, e);
    }
    if (r.secret !== null && r.secret_created_at !== null) {
      e.secrets.push({
        secret: box.open(r.secret, secretContext.endpoint(r.id)),
        createdAt: toDate(r.secret_created_at),
        expiresAt: toDateOrNull(r.secret_expires_at),
      });
    }
  }
  return [...byId.values()];
}

const SELECT_WITH_SECRETS = `
  SELECT e.*, s.secret, s.created_at AS secret_created_at, s.expires_at AS secret_expires_at
  FROM endpoints e
  LEFT JOIN endpoint_secrets s ON s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > @now)`;

type UpdateParams = {
  customer_id: string;
  id: string;
  set_url: 0 | 1;
  url: string | null;
  set_description: 0 | 1;
  description: string | null;
  set_event_types: 0 | 1;
  event_types: string | null;
  set_enabled: 0 | 1;
  enabled: 0 | 1;
  set_disabled_reason: 0 | 1;
  disabled_reason: string | null;
  set_rate_limit: 0 | 1;
  rate_limit: number | null;
  updated_at: number;
};

/**
 * Webhook endpoints with their signing secrets, stored encrypted by `box`. Reads omit secrets expired
 * at the time of the call.
 */
export function endpointQueries(db: Database, box: SecretBox) {
  const insert = db.prepare<
    Omit<Row<'endpoints'>, 'enabled' | 'disabled_reason' | 'disabled_at' | 'failing_since' | 'rate_tat'>
  >(
    `INSERT INTO endpoints (id, customer_id, url, description, event_types, rate_limit, created_at, updated_at)
     VALUES (@id, @customer_id, @url, @description, @event_types, @rate_limit, @created_at, @updated_at)`,
  );
  const insertSecret = db.prepare<Omit<Row<'endpoint_secrets'>, 'id'>>(
    `INSERT INTO endpoint_secrets (endpoint_id, secret, created_at, expires_at)
     VALUES (@endpoint_id, @secret, @created_at, @expires_at)`,
  );
  const one = db.prepare<{ customer_id: string; id: string; now: number }, EndpointSecretRow>(
    `${SELECT_WITH_SECRETS}
     WHERE e.customer_id = @customer_id AND e.id = @id
     ORDER BY s.created_at DESC, s.id DESC`,
  );
  const all = db.prepare<{ customer_id: string; now: number }, EndpointSecretRow>(
    `${SELECT_WITH_SECRETS}
     WHERE e.customer_id = @customer_id
     ORDER BY e.created_at, e.id, s.created_at DESC, s.id DESC`,
  );
  // a page: the endpoints after the cursor's (created_at, id), oldest first, then their secrets
  const page = db.prepare<
    { customer_id: string; now: number; after_at: number | null; after_id: string; limit: number },
    EndpointSecretRow
  >(
    `SELECT e.*, s.secret, s.created_at AS secret_created_at, s.expires_at AS secret_expires_at
     FROM (
       SELECT * FROM endpoints
       WHERE customer_id = @customer_id AND (@after_at IS NULL OR (created_at, id) > (@after_at, @after_id))
       ORDER BY created_at, id
       LIMIT @limit
     ) e
     LEFT JOIN endpoint_secrets s ON s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > @now)
     ORDER BY e.created_at, e.id, s.created_at DESC, s.id DESC`,
  );
  const countOf = db
    .prepare<[string], number>('SELECT count(*) FROM endpoints WHERE customer_id = ?')
    .pluck();
  // one statement for every patch shape: each column changes only when its set_ flag is 1
  const update = db.prepare<UpdateParams>(
    `UPDATE endpoints SET
       url = CASE WHEN @set_url THEN @url ELSE url END,
       description = CASE WHEN @set_description THEN @description ELSE description END,
       event_types = CASE WHEN @set_event_types THEN @event_types ELSE event_types END,
       enabled = CASE WHEN @set_enabled THEN @enabled ELSE enabled END,
       disabled_reason = CASE WHEN @set_disabled_reason THEN @disabled_reason
                              WHEN @set_enabled THEN NULL ELSE disabled_reason END,
       failing_since = CASE WHEN @set_enabled AND @enabled THEN NULL ELSE failing_since END,
       disabled_at = CASE WHEN NOT @set_enabled THEN disabled_at
                          WHEN @enabled THEN NULL
                          WHEN enabled = 1 THEN @updated_at ELSE disabled_at END,
       -- a new limit starts with a whole burst: the budget spent under the old one does not carry over
       rate_tat = CASE WHEN @set_rate_limit AND rate_limit IS NOT @rate_limit THEN NULL ELSE rate_tat END,
       rate_limit = CASE WHEN @set_rate_limit THEN @rate_limit ELSE rate_limit END,
       updated_at = @updated_at
     WHERE customer_id = @customer_id AND id = @id`,
  );
  // the partner's oldest endpoint other than `id` with that URL (existing databases may hold several)
  const sameUrl = db
    .prepare<{ customer_id: string; url: string; id: string }, string>(
      `SELECT id FROM endpoints WHERE customer_id = @customer_id AND url = @url AND id <> @id
       ORDER BY created_at, id LIMIT 1`,
    )
    .pluck();
  const remove = db.prepare<[string, string]>('DELETE FROM endpoints WHERE customer_id = ? AND id = ?');
  const exists = db
    .prepare<[string, string], number>('SELECT 1 FROM endpoints WHERE customer_id = ? AND id = ?')
    .pluck();
  const stateOf = db.prepare<[string, string], Pick<Row<'endpoints'>, 'enabled' | 'disabled_at'>>(
    'SELECT enabled, disabled_at FROM endpoints WHERE customer_id = ? AND id = ?',
  );
  // the backlog of a re-enabled endpoint: the partner's events of its types since `since` that have no
  // delivery to it, in event order (the claim computes heads from event_seq, so order holds)
  const backlog = db.prepare<
    { customer_id: string; endpoint_id: string; since: number },
    Pick<Row<'events'>, 'seq' | 'event_id' | 'client_customer_ref'>
  >(
    `SELECT ev.seq, ev.event_id, ev.client_customer_ref FROM events ev
     WHERE ev.customer_id = @customer_id AND ev.created_at >= @since
       AND EXISTS (
         SELECT 1 FROM endpoints e, json_each(e.event_types) t
         WHERE e.id = @endpoint_id AND t.value = ev.event_type
       )
       AND NOT EXISTS (
         SELECT 1 FROM deliveries d WHERE d.endpoint_id = @endpoint_id AND d.event_id = ev.event_id
       )
     ORDER BY ev.seq`,
  );
  const insertDelivery = db.prepare<
    Pick<
      Row<'deliveries'>,
      'id' | 'event_id' | 'event_seq' | 'endpoint_id' | 'customer_id' | 'client_customer_ref'
    > & { at: number }
  >(
    `INSERT INTO deliveries (id, event_id, event_seq, endpoint_id, customer_id, client_customer_ref,
       next_attempt_at, created_at, updated_at)
     VALUES (@id, @event_id, @event_seq, @endpoint_id, @customer_id, @client_customer_ref, @at, @at, @at)`,
  );
  const expireCurrent = db.prepare<[number, string]>(
    'UPDATE endpoint_secrets SET expires_at = ? WHERE endpoint_id = ? AND expires_at IS NULL',
  );
  const touch = db.prepare<[number, string]>('UPDATE endpoints SET updated_at = ? WHERE id = ?');

  const get = (customerId: string, id: string): Endpoint | undefined =>
    toEndpoints(one.all({ customer_id: customerId, id, now: Date.now() }), box)[0];

  const create = db.transaction((e: NewEndpoint): Endpoint => {
    const at = e.createdAt.getTime();
    insert.run({
      id: e.id,
      customer_id: e.customerId,
      url: e.url,
      description: e.description,
      event_types: JSON.stringify(e.eventTypes),
      rate_limit: e.rateLimit ?? null,
      created_at: at,
      updated_at: at,
    });
    const secret = box.seal(e.secret, secretContext.endpoint(e.id));
    insertSecret.run({ endpoint_id: e.id, secret, created_at: at, expires_at: null });
    return {
      id: e.id,
      customerId: e.customerId,
      url: e.url,
      description: e.description,
      eventTypes: [...e.eventTypes],
      enabled: true,
      disabledReason: null,
      disabledAt: null,
      rateLimit: e.rateLimit ?? null,
      secrets: [{ secret: e.secret, createdAt: e.createdAt, expiresAt: null }],
      createdAt: e.createdAt,
      updatedAt: e.createdAt,
    };
  });

  // checked under the write lock (BEGIN IMMEDIATE), so two creates cannot both see room for one, nor
  // both miss the other's URL
  const createWithin = db.transaction((e: NewEndpoint, max: number): EndpointCreation => {
    const taken = sameUrl.get({ customer_id: e.customerId, url: e.url, id: e.id });
    if (taken !== undefined) return { outcome: 'url_taken', endpointId: taken };
    if ((countOf.get(e.customerId) ?? 0) >= max) return { outcome: 'limit_reached' };
    return { outcome: 'created', endpoint: create(e) };
  });

  const patch = db.transaction(
    (customerId: string, id: string, p: EndpointPatch, at: Date): EndpointUpdate => {
      const before = stateOf.get(customerId, id);
      if (before === undefined) return { outcome: 'not_found' };
      if (p.url !== undefined) {
        const taken = sameUrl.get({ customer_id: customerId, url: p.url, id });
        if (taken !== undefined) return { outcome: 'url_taken', endpointId: taken };
      }
      const { changes } = update.run({
        customer_id: customerId,
        id,
        set_url: p.url === undefined ? 0 : 1,
        url: p.url ?? null,
        set_description: p.description === undefined ? 0 : 1,
        description: p.description ?? null,
        set_event_types: p.eventTypes === undefined ? 0 : 1,
        event_types: p.eventTypes === undefined ? null : JSON.stringify(p.eventTypes),
        set_enabled: p.enabled === undefined ? 0 : 1,
        enabled: p.enabled === false ? 0 : 1,
        set_disabled_reason: p.disabledReason === undefined ? 0 : 1,
        disabled_reason: p.disabledReason ?? null,
        set_rate_limit: p.rateLimit === undefined ? 0 : 1,
        rate_limit: p.rateLimit ?? null,
        updated_at: at.getTime(),
      });
      if (changes !== 1) return { outcome: 'not_found' };
      // re-enabled with its backlog: the events since it was disabled
      const since =
        p.enabled === true && before.enabled === 0 && p.backlog !== 'skip' ? before.disabled_at : null;
      let backfilled = 0;
      if (since !== null) {
        for (const ev of backlog.all({ customer_id: customerId, endpoint_id: id, since })) {
          insertDelivery.run({
            id: newDeliveryId(),
            event_id: ev.event_id,
            event_seq: ev.seq,
            endpoint_id: id,
            customer_id: customerId,
            client_customer_ref: ev.client_customer_ref,
            at: at.getTime(),
          });
          backfilled++;
        }
      }
      const endpoint = get(customerId, id);
      return endpoint ? { outcome: 'updated', endpoint, backfilled } : { outcome: 'not_found' };
    },
  );

  const rotate = db.transaction(
    (customerId: string, id: string, secret: string, at: Date, oldExpiresAt: Date): Endpoint | undefined => {
      if (exists.get(customerId, id) === undefined) return undefined;
      expireCurrent.run(oldExpiresAt.getTime(), id);
      const sealed = box.seal(secret, secretContext.endpoint(id));
      insertSecret.run({ endpoint_id: id, secret: sealed, created_at: at.getTime(), expires_at: null });
      touch.run(at.getTime(), id);
      return get(customerId, id);
    },
  );

  return {
    create: (e: NewEndpoint): Endpoint => create.immediate(e),
    get,
    createWithin: (e: NewEndpoint, maxPerPartner: number): EndpointCreation =>
      createWithin.immediate(e, maxPerPartner),
    list: (customerId: string): Endpoint[] =>
      toEndpoints(all.all({ customer_id: customerId, now: Date.now() }), box),
    listPage: (customerId: string, q: { limit: number; cursor?: string }): CursorPage<Endpoint> => {
      const after = q.cursor === undefined ? undefined : decodeKeyCursor(q.cursor);
      const rows = page.all({
        customer_id: customerId,
        now: Date.now(),
        after_at: after?.at.getTime() ?? null,
        after_id: after?.id ?? '',
        limit: q.limit + 1,
      });
      return toKeyPage(toEndpoints(rows, box), q.limit);
    },
    update: (customerId: string, id: string, p: EndpointPatch, at: Date): EndpointUpdate =>
      patch.immediate(customerId, id, p, at),
    // secrets, deliveries and their attempts go with it (ON DELETE CASCADE)
    delete: (customerId: string, id: string): boolean => remove.run(customerId, id).changes === 1,
    rotateSecret: (customerId: string, id: string, secret: string, at: Date, oldExpiresAt: Date) =>
      rotate.immediate(customerId, id, secret, at, oldExpiresAt),
  };
}
