/**
 * Partner API: the partner's events as Server-Sent Events, as they are committed (what `tpcs listen`
 * subscribes to). Reads the store by `seq` when the queue says something was recorded (`onQueued`:
 * this process's decisions at once, other processes' through PostgreSQL's NOTIFY), and every
 * `FALLBACK_POLL_MS` in case a wake-up was missed (another process on a shared SQLite file, a LISTEN
 * connection down).
 *
 * Each event is one SSE message: `id:` the event_id, `event: event`, `data:` the payload exactly as
 * stored (and delivered). A reconnecting client sends `Last-Event-ID` (or `?last_event_id=`) and
 * gets every event after that one; a fresh subscription starts with the next event. A comment line
 * is sent every `HEARTBEAT_MS` so proxies keep the connection open.
 *
 * A stream costs the service little whatever the client does: the backlog is replayed a page at a time
 * (never more than one page of events in memory per stream), nothing more is written while the
 * client's socket is full, and a client that does not drain it within `drainTimeoutMs` is dropped
 * (it reconnects with `Last-Event-ID` when it reads again). Streams are capped per partner (429) and
 * in all (503); a slot is given back however its stream ends.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { encodeCursor } from '../../storage/cursor.js';
import type { DeliveryQueue } from '../../storage/queue.js';
import type { Store, StoredEvent } from '../../storage/store.js';
import { isEventId } from '../../webhooks/events.js';
import { HttpError, sendHttpError } from '../errors.js';
import { customerParamsSchema, errorResponses, PARTNER_SECURITY, type RouteDeps } from './shared.js';

/** How often the store is asked for new events when nothing said there are any. */
export const FALLBACK_POLL_MS = 2000;
/** How often a heartbeat comment is sent when nothing happens. */
export const HEARTBEAT_MS = 15_000;
/** Events read per store query while catching up: the most a stream holds in memory. */
export const REPLAY_PAGE = 200;
/** `Retry-After` of a refused stream: a slot frees when another stream ends, which nobody can predict. */
const RETRY_AFTER_SECONDS = 5;

/** What a stream may cost (settings `EVENT_STREAMS_PER_PARTNER`, `EVENT_STREAMS_MAX`, `EVENT_STREAM_DRAIN_TIMEOUT`). */
export interface EventStreamLimits {
  /** Streams one partner (`customer_id`) may hold open at once; one more is answered 429. */
  perPartner: number;
  /** Streams open at once in this app, all partners together; one more is answered 503. */
  total: number;
  /** How long a stream waits for a client's full socket to drain before it drops the client. */
  drainTimeoutMs: number;
}

export const DEFAULT_EVENT_STREAM_LIMITS: EventStreamLimits = {
  perPartner: 5,
  total: 1000,
  drainTimeoutMs: 30_000,
};

/** Open streams, counted per partner and in all. */
class StreamSlots {
  readonly #byPartner = new Map<string, number>();
  #total = 0;
  readonly limits: EventStreamLimits;

  constructor(limits: EventStreamLimits) {
    this.limits = limits;
  }

  /** Takes a slot for the partner and returns its release (idempotent), or throws the refusal. */
  take(customerId: string): () => void {
    const held = this.#byPartner.get(customerId) ?? 0;
    if (held >= this.limits.perPartner) {
      throw new HttpError(
        'rate_limited',
        `At most ${this.limits.perPartner} event streams of one partner may be open at once; close one first`,
        { retry_after_seconds: RETRY_AFTER_SECONDS },
      );
    }
    if (this.#total >= this.limits.total) {
      throw new HttpError(
        'unavailable',
        'The service has as many event streams open as it takes; retry later',
        {
          retry_after_seconds: RETRY_AFTER_SECONDS,
        },
      );
    }
    this.#byPartner.set(customerId, held + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#byPartner.get(customerId) ?? 1) - 1;
      if (left === 0) this.#byPartner.delete(customerId);
      else this.#byPartner.set(customerId, left);
    };
  }
}

/**
 * The pages holding the partner's events after `afterSeq`, oldest first, from the store's newest-first
 * cursor listing: each page as the `seq` its events are below (a cursor), plus the oldest page itself,
 * read on the way down. The bounds are fixed, so events committed meanwhile neither shift a page nor
 * get skipped: they are above the newest bound, for the next catch-up. Holds one page at a time.
 */
async function pagesAfter(
  store: Store,
  customerId: string,
  afterSeq: number,
): Promise<{ bounds: number[]; oldest: StoredEvent[] }> {
  const bounds: number[] = [];
  let page = await store.listEvents(customerId, { limit: REPLAY_PAGE });
  const newest = page.items[0];
  if (newest === undefined || newest.seq <= afterSeq) return { bounds, oldest: [] };
  bounds.push(newest.seq + 1);
  for (;;) {
    const last = page.items.at(-1);
    if (last === undefined || last.seq <= afterSeq || page.nextCursor === null) break;
    bounds.push(last.seq);
    page = await store.listEvents(customerId, { limit: REPLAY_PAGE, cursor: encodeCursor(last.seq) });
  }
  return { bounds: bounds.reverse(), oldest: page.items };
}

/** The `seq` to start after: the given event's, or the newest event's (nothing is replayed). */
async function startSeq(store: Store, customerId: string, lastEventId: string | undefined): Promise<number> {
  if (lastEventId !== undefined) {
    const event = isEventId(lastEventId) ? await store.getEvent(customerId, lastEventId) : undefined;
    if (!event) throw new HttpError('bad_request', `Unknown Last-Event-ID ${lastEventId.slice(0, 100)}`);
    return event.seq;
  }
  const newest = await store.listEvents(customerId, { limit: 1 });
  return newest.items[0]?.seq ?? 0;
}

/** One SSE message for an event; a payload is one line of JSON, but newlines are split to be safe. */
function message(event: StoredEvent): string {
  const data = event.payload
    .split(/\r?\n/)
    .map((line) => `data: ${line}\n`)
    .join('');
  return `id: ${event.eventId}\nevent: event\n${data}\n`;
}

/**
 * Resolves true when `res` drains, false when it closes, `stop` fires, or `timeoutMs` passes first.
 */
function drained(res: ServerResponse, stop: AbortSignal, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const settle = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onGone);
      stop.removeEventListener('abort', onGone);
      resolve(ok);
    };
    const onDrain = () => settle(true);
    const onGone = () => settle(false);
    const timer = setTimeout(onGone, timeoutMs);
    res.on('drain', onDrain);
    res.on('close', onGone);
    stop.addEventListener('abort', onGone);
  });
}

/**
 * One client's stream, from the 200 to its end. Writes one thing at a time and, when the socket is
 * full, nothing more until it drains: a client that stops reading costs the socket's buffer and the
 * page being sent, and is dropped after `drainTimeoutMs`.
 */
class EventStream {
  readonly #res: ServerResponse;
  readonly #limits: EventStreamLimits;
  readonly #log: FastifyBaseLogger;
  readonly #onEnd: () => void;
  /** Aborted when the stream ends, however it ends. */
  readonly #stop = new AbortController();
  /** Ends the current idle wait. */
  #wake: (() => void) | undefined;
  /** Something was recorded since the last catch-up started. */
  #woken = false;
  #lastWrite = Date.now();

  constructor(res: ServerResponse, limits: EventStreamLimits, log: FastifyBaseLogger, onEnd: () => void) {
    this.#res = res;
    this.#limits = limits;
    this.#log = log;
    this.#onEnd = onEnd;
    res.once('close', () => this.end('end'));
  }

  /** Ends the stream once: dropped (or with data unsent) the connection is destroyed, else ended cleanly. */
  end(how: 'end' | 'drop'): void {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#wake?.();
    this.#onEnd();
    if (how === 'drop' || this.#res.writableLength > 0) this.#res.destroy();
    else this.#res.end();
  }

  /** Sends the partner's events after `afterSeq`, then each new one, until the stream ends. */
  async run(store: Store, customerId: string, afterSeq: number, queue?: DeliveryQueue): Promise<void> {
    const unsubscribe = queue?.onQueued(() => this.#poke());
    this.#stop.signal.addEventListener('abort', () => unsubscribe?.(), { once: true });
    this.#res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let lastSeq = afterSeq;
    try {
      // retry: how long an EventSource waits before reconnecting.
      if (!(await this.#send(`retry: 1000\n: subscribed to ${customerId}\n\n`))) return;
      // the first catch-up also covers anything committed between the start position and the subscription
      while (!this.#stop.signal.aborted) {
        this.#woken = false;
        const { bounds, oldest } = await pagesAfter(store, customerId, lastSeq);
        let page = oldest;
        for (let i = 0; ; ) {
          // pages are newest first
          for (let j = page.length - 1; j >= 0; j--) {
            const event = page[j] as StoredEvent;
            if (event.seq <= lastSeq) continue;
            if (!(await this.#send(message(event)))) return;
            lastSeq = event.seq;
          }
          if (++i >= bounds.length) break;
          const cursor = encodeCursor(bounds[i] as number);
          page = (await store.listEvents(customerId, { limit: REPLAY_PAGE, cursor })).items;
        }
        if (Date.now() - this.#lastWrite >= HEARTBEAT_MS && !(await this.#send(': heartbeat\n\n'))) return;
        if (!this.#woken) await this.#idle();
      }
    } catch (error) {
      // The store is closing or failing: end the stream; the client reconnects with Last-Event-ID.
      this.#log.warn({ err: error }, 'event stream stopped');
      this.end('end');
    }
  }

  /** Writes a chunk; when the socket is full, waits for it to drain. False once the stream is over. */
  async #send(chunk: string): Promise<boolean> {
    if (this.#stop.signal.aborted) return false;
    this.#lastWrite = Date.now();
    if (this.#res.write(chunk)) return true;
    if (await drained(this.#res, this.#stop.signal, this.#limits.drainTimeoutMs)) return true;
    if (!this.#stop.signal.aborted) {
      this.#log.info(`event stream dropped: the client read nothing for ${this.#limits.drainTimeoutMs} ms`);
      this.end('drop');
    }
    return false;
  }

  /** A wake-up from the queue: read again now, or right after the read under way. */
  #poke(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /** Waits for a wake-up, the fallback poll or the end of the stream. */
  #idle(): Promise<void> {
    if (this.#stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, FALLBACK_POLL_MS);
      this.#wake = done;
    });
  }
}

/** `GET /api/v1/customers/{customer_id}/events/stream`; registered by `buildApp`. */
export const eventStreamRoutes: FastifyPluginAsyncZod<
  RouteDeps & { limits?: Partial<EventStreamLimits> | undefined }
> = async (app, { store, auth, delivery, limits: given }) => {
  const limits: EventStreamLimits = { ...DEFAULT_EVENT_STREAM_LIMITS, ...given };
  const slots = new StreamSlots(limits);
  app.addHook('onRequest', auth.requirePartner);
  /** Open streams, ended when the service shuts down so that closing does not wait for them. */
  const open = new Set<EventStream>();
  app.addHook('preClose', async () => {
    for (const stream of open) stream.end('end');
  });

  app.get(
    '/api/v1/customers/:customer_id/events/stream',
    {
      schema: {
        operationId: 'streamEvents',
        summary: 'Stream new events as Server-Sent Events (text/event-stream), e.g. for `tpcs listen`',
        description:
          'Open streams are capped per partner (`EVENT_STREAMS_PER_PARTNER`: 429 with Retry-After past it) and in all (`EVENT_STREAMS_MAX`: 503). A client that stops reading for `EVENT_STREAM_DRAIN_TIMEOUT` is disconnected; it resumes with Last-Event-ID.',
        tags: ['events'],
        security: PARTNER_SECURITY,
        params: customerParamsSchema,
        headers: z.looseObject({
          'last-event-id': z.string().optional().meta({
            description:
              'Resume after this event (an EventSource sends it when it reconnects); 400 if unknown',
          }),
        }),
        querystring: z.object({
          last_event_id: z
            .string()
            .min(1)
            .max(100)
            .optional()
            .meta({ description: 'As the Last-Event-ID header, for clients that cannot set headers' }),
        }),
        response: {
          200: {
            description:
              'The stream, open until the client leaves: one message per event (`id:` the event_id, `event: event`, `data:` the event exactly as delivered, one line of JSON), a `: heartbeat` comment every 15 s, `retry: 1000`. Without Last-Event-ID it starts with the next event.',
            content: {
              'text/event-stream': {
                schema: z.string().meta({
                  example:
                    'retry: 1000\n: subscribed to 0201001008132685\n\nid: 0198a3c2-7f1e-7c4a-9d2b-3e4f5a6b7c8d\nevent: event\ndata: {"event_id":"0198a3c2-7f1e-7c4a-9d2b-3e4f5a6b7c8d","event_type":"THIRD PARTY CUSTOMER STATUS",…}\n\n',
                }),
              },
            },
          },
          ...errorResponses(400, 401, 404, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const customerId = request.params.customer_id;
      const header = request.headers['last-event-id'];
      const lastEventId =
        (typeof header === 'string' && header !== '' ? header : undefined) ?? request.query.last_event_id;

      let release: () => void;
      try {
        release = slots.take(customerId);
      } catch (error) {
        // 503 is not sent with Retry-After by the shared error handler (only 429 is): say it here.
        if (error instanceof HttpError && error.code === 'unavailable')
          return sendHttpError(reply.header('retry-after', String(RETRY_AFTER_SECONDS)), error);
        throw error;
      }
      let lastSeq: number;
      try {
        lastSeq = await startSeq(store, customerId, lastEventId);
      } catch (error) {
        release();
        throw error;
      }

      reply.hijack();
      const stream = new EventStream(reply.raw, limits, request.log, () => {
        open.delete(stream);
        release();
      });
      open.add(stream);
      // the client may have gone while the start was looked up: its 'close' has fired already
      if (reply.raw.destroyed || request.raw.socket.destroyed) return stream.end('drop');
      void stream.run(store, customerId, lastSeq, delivery?.queue);
    },
  );
};
