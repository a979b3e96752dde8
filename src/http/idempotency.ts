/**
 * `Idempotency-Key` on partner POSTs: a client that retries after a timeout gets the first answer
 * back (same status, same body, header `idempotent-replayed: true`) instead of a second write. The
 * same key with a different request is a client bug and answers 422 `idempotency_key_reused`.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  PRUNE_INTERVAL_MS,
  type Pruner,
  type PrunerHooks,
  pruneInBatches,
  startPruner,
} from '../storage/pruner.js';
import type { Store } from '../storage/store.js';
import { HttpError } from './errors.js';

/** The header clients send. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** The request headers of a POST that takes a key, as documented in the OpenAPI document. */
export const IDEMPOTENCY_HEADERS = z.looseObject({
  [IDEMPOTENCY_HEADER]: z.string().optional().meta({
    description:
      'Retry-safe POST: a retry with the same key and body gets the first answer back (header idempotent-replayed: true) for 24 hours; the same key with another body answers 422',
  }),
});

/** The header on a replayed answer. */
export const REPLAYED_HEADER = 'idempotent-replayed';

/** An answer a POST handler gives: what is sent, and what a retry gets back. */
export interface Answer {
  statusCode: number;
  body: unknown;
}

/** An answer, marked when it is a replay of a stored one. */
export interface IdempotentAnswer extends Answer {
  replayed: boolean;
}

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` are the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What makes two requests "the same": method, path and body. */
export function requestFingerprint(request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? '';
  return createHash('sha256')
    .update(`${request.method} ${path}\n${canonicalJson(request.body ?? null)}`)
    .digest('hex');
}

function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers[IDEMPOTENCY_HEADER];
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw.join(',') : raw;
  if (!/^[\x20-\x7e]{1,255}$/.test(key)) {
    throw new HttpError('bad_request', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
  }
  return key;
}

/** Runs partner POST handlers at most once per `Idempotency-Key`. */
export class Idempotency {
  // Serialises requests with the same key inside this process, so that two racing retries do not
  // both run the handler; across processes the store's insert-if-absent keeps the first answer.
  readonly #inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly store: Store) {}

  /**
   * Runs `handle` unless the request's key already has an answer, and remembers the answer. Client
   * errors the handler raises (409…) are remembered too: they are the first answer.
   *
   * @example
   * const answer = await idempotency.run(request, customerId, async () => ({statusCode: 201, body}));
   */
  async run(
    request: FastifyRequest,
    customerId: string,
    handle: () => Promise<Answer>,
  ): Promise<IdempotentAnswer> {
    const key = idempotencyKeyOf(request);
    if (key === undefined) return { ...(await handle()), replayed: false };

    const lockKey = `${customerId}\u0000${key}`;
    for (let pending = this.#inFlight.get(lockKey); pending; pending = this.#inFlight.get(lockKey)) {
      await pending.catch(() => undefined);
    }
    const work = this.#runOnce(request, customerId, key, handle);
    this.#inFlight.set(lockKey, work);
    try {
      return await work;
    } finally {
      if (this.#inFlight.get(lockKey) === work) this.#inFlight.delete(lockKey);
    }
  }

  async #runOnce(
    request: FastifyRequest,
    customerId: string,
    key: string,
    handle: () => Promise<Answer>,
  ): Promise<IdempotentAnswer> {
    const fingerprint = requestFingerprint(request);
    const stored = await this.store.getIdempotentResponse(customerId, key);
    if (stored) return replayOrRefuse(stored, fingerprint);

    let answer: Answer;
    let failure: HttpError | undefined;
    try {
      answer = await handle();
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      failure = err;
      answer = { statusCode: err.status, body: err.toBody() };
    }
    const saved = await this.store.saveIdempotentResponse(
      customerId,
      key,
      { requestHash: fingerprint, statusCode: answer.statusCode, body: JSON.stringify(answer.body) },
      new Date(),
    );
    // Another process won the race with this key: its answer is the first one.
    if (saved.requestHash !== fingerprint || saved.body !== JSON.stringify(answer.body)) {
      return replayOrRefuse(saved, fingerprint);
    }
    if (failure) throw failure;
    return { ...answer, replayed: false };
  }
}

function replayOrRefuse(
  stored: { requestHash: string; statusCode: number; body: string },
  fingerprint: string,
) {
  if (stored.requestHash !== fingerprint) {
    throw new HttpError(
      'idempotency_key_reused',
      'This Idempotency-Key was already used with a different request; use a new key for a new request',
    );
  }
  return { statusCode: stored.statusCode, body: JSON.parse(stored.body) as unknown, replayed: true };
}

/**
 * How long an answer is kept for its key: a day, as Stripe does. A client retries within minutes;
 * a key reused after a day is a new request. Keys are pruned hourly, so one lives 24 to 25 hours.
 */
export const IDEMPOTENCY_KEY_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes every key older than the retention, in batches (storage/pruner.ts); returns how many.
 *
 * @example
 * const pruned = await pruneIdempotencyKeys(store);
 */
export async function pruneIdempotencyKeys(
  store: Pick<Store, 'pruneIdempotencyKeys'>,
  now: Date = new Date(),
  retentionMs: number = IDEMPOTENCY_KEY_RETENTION_MS,
): Promise<number> {
  const before = new Date(now.getTime() - retentionMs);
  return pruneInBatches((limit) => store.pruneIdempotencyKeys(before, limit));
}

export type IdempotencyPruner = Pruner;

/**
 * Prunes expired keys now and then every hour (the timer never keeps the process alive). A failed
 * prune is reported to `onError` and tried again at the next interval.
 *
 * @example
 * const pruner = startIdempotencyPruner(store, { onPruned: (n) => log.info({ n }, 'pruned') });
 * await pruner.stop();
 */
export function startIdempotencyPruner(
  store: Pick<Store, 'pruneIdempotencyKeys'>,
  hooks: PrunerHooks = {},
  intervalMs: number = PRUNE_INTERVAL_MS,
): IdempotencyPruner {
  return startPruner(() => pruneIdempotencyKeys(store), hooks, intervalMs);
}
