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
 */
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Store, StoredEvent } from '../../storage/store.js';
import { isEventId } from '../../webhooks/events.js';
import { HttpError } from '../errors.js';
import { customerParamsSchema, errorResponses, PARTNER_SECURITY, type RouteDeps } from './shared.js';

/** How often the store is asked for new events when nothing said there are any. */
export const FALLBACK_POLL_MS = 2000;
/** How often a heartbeat comment is sent when nothing happens. */
export const HEARTBEAT_MS = 15_000;
/** Events read per store page while catching up. */
const PAGE = 100;

/** The events of `customerId` with a `seq` above `afterSeq`, oldest first. */
async function eventsAfter(store: Store, customerId: string, afterSeq: number): Promise<StoredEvent[]> {
  const found: StoredEvent[] = [];
  let cursor: string | undefined;
  // Pages come newest first; stop at the first event already sent.
  for (;;) {
    const page = await store.listEvents(customerId, {
      limit: PAGE,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const fresh = page.items.filter((e) => e.seq > afterSeq);
    found.push(...fresh);
    if (fresh.length < page.items.length || page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  return found.reverse();
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

/** `GET /api/v1/customers/{customer_id}/events/stream`; registered by `buildApp`. */
export const eventStreamRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { store, auth, delivery }) => {
  app.addHook('onRequest', auth.requirePartner);
  /** Open streams, ended when the service shuts down so that closing does not wait for them. */
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

  app.get(
    '/api/v1/customers/:customer_id/events/stream',
    {
      schema: {
        summary: 'Stream new events as Server-Sent Events (text/event-stream), e.g. for `tpcs listen`',
        tags: ['events'],
        security: PARTNER_SECURITY,
        params: customerParamsSchema,
        querystring: z.object({ last_event_id: z.string().min(1).max(100).optional() }),
        response: errorResponses(400, 401, 404),
      },
    },
    async (request, reply) => {
      const customerId = request.params.customer_id;
      const header = request.headers['last-event-id'];
      const lastEventId =
        (typeof header === 'string' && header !== '' ? header : undefined) ?? request.query.last_event_id;
      let lastSeq = await startSeq(store, customerId, lastEventId);

      reply.hijack();
      const res: ServerResponse = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      // retry: how long an EventSource waits before reconnecting.
      res.write(`retry: 1000\n: subscribed to ${customerId}\n\n`);

      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      let lastWrite = Date.now();
      let reading = false;
      let again = false;
      const end = () => {
        if (stopped) return;
        stopped = true;
        clearTimeout(timer);
        unsubscribe?.();
        open.delete(end);
        res.end();
      };
      open.add(end);
      request.raw.socket.once('close', end);
      res.once('close', end);

      // One read at a time; a wake-up during a read makes one more read after it.
      const poll = async () => {
        if (stopped) return;
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        clearTimeout(timer);
        try {
          for (const event of await eventsAfter(store, customerId, lastSeq)) {
            res.write(message(event));
            lastSeq = event.seq;
            lastWrite = Date.now();
          }
          if (Date.now() - lastWrite >= HEARTBEAT_MS) {
            res.write(': heartbeat\n\n');
            lastWrite = Date.now();
          }
        } catch (error) {
          // The store is closing or failing: end the stream; the client reconnects with Last-Event-ID.
          request.log.warn({ err: error }, 'event stream stopped');
          end();
          return;
        } finally {
          reading = false;
        }
        if (again) {
          again = false;
          void poll();
        } else if (!stopped) timer = setTimeout(poll, FALLBACK_POLL_MS);
      };
      const unsubscribe = delivery?.queue.onQueued(() => void poll());
      // anything committed between the start position and the subscription
      void poll();
    },
  );
};
