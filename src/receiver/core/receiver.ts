// The contract's modules one by one, not its index: the index also holds the sender's builder, which
// uses node:crypto, and this core runs on runtimes without it (test/examples/worker-receiver.test.ts bundles it).
import { invalidPayloadBody } from '../../contract/openapi.js';
import { parseEvent } from '../../contract/parse.js';
import type { ThirdPartyCustomerStatusEvent } from '../../contract/schema.js';
import type { HeaderSource } from '../../signing/headers.js';
import type { InboxStore, PendingEvent, RecordOutcome } from '../inbox/store.js';
import { isJsonContentType } from './content-type.js';
import { DEFAULT_FUTURE_TOLERANCE_SECONDS, futureProblem } from './future.js';
import { GroupCommit } from './group-commit.js';
import { type Handler, type HandlerName, HandlerRegistry } from './handlers.js';
import { getHeader } from './headers.js';
import { consoleLogger, type ReceiverLogger } from './logger.js';
import { errorResponse, jsonResponse, type ReceiverResponse } from './response.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy.js';
import { nextTurn } from './timers.js';
import type { SignatureCheck } from './verification.js';
import { InboxWorker } from './worker.js';
import { type WriteFailure, WriteHealth } from './write-health.js';

/**
 * Reads the body, stopping once it exceeds `limitBytes`: resolves `undefined` in that case, so an
 * adapter never buffers more than the limit. Rejects if the client goes away mid-upload.
 */
export type BodyReader = (limitBytes: number) => Promise<Uint8Array | undefined>;

export interface ReceiverRequest {
  method: string;
  headers: HeaderSource;
  /** The raw bytes, or a reader the core calls only after the cheap checks (method, type, length) pass. */
  body: Uint8Array | BodyReader;
}

export interface ReceiverOptions {
  /**
   * Signing secrets (`whsec_…`). Several are accepted at once during a rotation. Required, unless
   * `insecureSkipVerify` is true: `createReceiver` throws without one (an empty or undefined one too).
   */
  secrets?: string | readonly string[];
  /**
   * Accept events without checking any signature: anyone who can reach the endpoint can forge them.
   * For local development only; a warning is logged. Must be exactly `true`, and without `secrets`.
   */
  insecureSkipVerify?: boolean;
  /**
   * Where events are recorded before the 200. The receiver does not close it: whoever opened it does.
   * (The Node entry's `createReceiver` also takes a SQLite file path, and opens `./tpcs-inbox.db` by default.)
   */
  inbox: InboxStore;
  /** Larger bodies are answered 413 without being read further. Default 256 KiB. */
  maxBodyBytes?: number;
  /** Accepted clock skew for `webhook-timestamp`, both ways. Default 300 s (Standard Webhooks). */
  toleranceSeconds?: number;
  /**
   * How far ahead of this receiver's clock an `event_timestamp` may be. Default 300 s. A later one is
   * answered 400 and not recorded: the newest `event_timestamp` wins, so an event dated ahead would
   * hold its third party's status until that time.
   */
  futureToleranceSeconds?: number;
  /** Retries for handlers that throw. Default: 10 attempts, 1 s doubling to at most 1 h, jittered. */
  retry?: Partial<RetryPolicy>;
  /**
   * Hand out-of-order (stale) events to handlers too, with `context.stale === true`. Default false:
   * a stale event is recorded but handlers only ever see the newest status for each third party.
   */
  handleStaleEvents?: boolean;
  /** Start the handler worker now. Default true; false records events and runs handlers only on `drain()`. */
  startWorker?: boolean;
  /** Batch concurrent events into one inbox transaction. Default true. */
  groupCommit?: boolean;
  /** A pino logger fits. Default: warnings and errors on stderr, nothing else. */
  logger?: ReceiverLogger;
}

export interface Receiver {
  /** Turns one HTTP request into one answer. Never throws; the answer body is always JSON. */
  handle(request: ReceiverRequest): Promise<ReceiverResponse>;
  /**
   * Subscribes a handler; returns a function that unsubscribes it. Handlers run after the 200, from the
   * inbox. Subscribe before serving: an event that arrives while nothing is subscribed is recorded as
   * handled (the status table is still kept), and so is a recovered one met with nothing subscribed.
   */
  on<N extends HandlerName>(name: N, handler: Handler<N>): () => void;
  /** Counts since the receiver was created: accepted events by outcome, other answers by status. */
  stats(): ReceiverStats;
  /**
   * Whether the inbox takes writes now: false from a failed write (a full disk, an I/O error; events
   * are answered 503 meanwhile) until one succeeds again.
   */
  health(): ReceiverHealth;
  /**
   * {@link health}, after trying a write of the inbox's own (`InboxStore.probe`): what a readiness check
   * asks, so that it sees the disk fill or come back even with no event arriving.
   */
  checkHealth(): Promise<ReceiverHealth>;
  /** Runs handlers for every event that is due now; resolves when none is left. */
  drain(): Promise<void>;
  /**
   * Stops the worker (unhandled events stay in the inbox). The Node entry's receiver also closes the
   * SQLite inbox it opened from a path; a store passed in is closed by whoever opened it.
   */
  close(): Promise<void>;
  readonly inbox: InboxStore;
  readonly maxBodyBytes: number;
  /** Whether signatures are checked. */
  readonly verifiesSignatures: boolean;
}

/** See {@link Receiver.health}. */
export interface ReceiverHealth {
  /** False while any write to the inbox fails. */
  readonly writable: boolean;
  /** Each writer failing now: when and how its episode began, how many writes failed since. */
  readonly failing: readonly WriteFailure[];
}

export interface ReceiverStats {
  /** Events answered 200, by what recording did. */
  recorded: number;
  duplicate: number;
  stale: number;
  /** Requests not answered 200, by HTTP status (`400`, `401`, `413`, …). */
  rejected: Record<number, number>;
}

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/**
 * `Retry-After` of a 503 for an inbox that cannot write: soon enough that a freed disk is used within
 * seconds, late enough that a sender honouring it does not hammer a full one.
 */
export const INBOX_RETRY_AFTER_SECONDS = 10;

/** Decodes stored bodies for handlers; they were validated as UTF-8 when received. */
const UTF8 = new TextDecoder();

/**
 * The receiver itself, on any runtime: verify, validate, record durably, answer, then hand typed
 * events to handlers. It imports nothing from Node: each entry passes what is runtime-specific, the
 * inbox and the signature check it made from `options.secrets` and `options.toleranceSeconds` with
 * its runtime's crypto (`signatureCheckFor`; the core reads neither option itself). Partners call an
 * entry's `createReceiver` (`tpcs/receiver` on Node, `tpcs/receiver/web` elsewhere), not this.
 *
 * @example
 * ```ts
 * const receiver = createReceiverCore(
 *   { ...options, inbox },
 *   signatureCheckFor(options, createWebVerifier),
 * );
 * ```
 */
export function createReceiverCore(options: ReceiverOptions, verify: SignatureCheck | undefined): Receiver {
  const log = options.logger ?? consoleLogger;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const futureToleranceSeconds = options.futureToleranceSeconds ?? DEFAULT_FUTURE_TOLERANCE_SECONDS;
  if (!verify) {
    log.warn(
      { signature_verification: false },
      'insecureSkipVerify: webhook signatures are NOT verified and anyone who can reach this ' +
        'endpoint can forge events. Pass secrets: ["whsec_…"] instead outside local development.',
    );
  }
  const { inbox } = options;
  // Two writers on the inbox, each logging its own failures once per episode (write-health.ts).
  const recording = new WriteHealth(log, 'inbox');
  const handling = new WriteHealth(log, 'inbox worker');
  const handlers = new HandlerRegistry();
  const handleStale = options.handleStaleEvents ?? false;
  const recordOptions = () => ({ handleStale, handlers: handlers.size > 0 });
  const groupCommit = new GroupCommit(inbox, recordOptions);
  const record =
    options.groupCommit === false
      ? async (entry: Parameters<GroupCommit['record']>[0]) =>
          (await inbox.record([entry], recordOptions()))[0]
      : (entry: Parameters<GroupCommit['record']>[0]) => groupCommit.record(entry);

  const worker = new InboxWorker({
    store: inbox,
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    log,
    health: handling,
    dispatch: async (pending: PendingEvent) => {
      if (handlers.size === 0) return; // nothing subscribed (e.g. `tpcs receive`): just mark it handled
      // Validated when received; stored bytes are exactly those bytes, so a plain parse suffices.
      const event = JSON.parse(UTF8.decode(pending.body)) as ThirdPartyCustomerStatusEvent;
      return handlers.run(event, {
        attempt: pending.attempts + 1,
        stale: pending.stale,
        receivedAt: new Date(pending.receivedAt),
      });
    },
  });
  const workerEnabled = options.startWorker ?? true;
  // Events left unhandled by a previous process (crash after 200) are picked up on the next turn of the
  // event loop, once the caller has subscribed its handlers (`on` right after `createReceiver`).
  if (workerEnabled) nextTurn(() => worker.notify());
  let closed = false;
  const stats: ReceiverStats = { recorded: 0, duplicate: 0, stale: 0, rejected: {} };

  async function accept(request: ReceiverRequest): Promise<ReceiverResponse> {
    if (request.method.toUpperCase() !== 'POST') {
      return errorResponse('method_not_allowed', 'Webhooks are delivered with POST', undefined, {
        allow: 'POST',
      });
    }
    const declaredLength = Number(getHeader(request.headers, 'content-length'));
    if (declaredLength > maxBodyBytes) return tooLarge(maxBodyBytes);
    const contentType = getHeader(request.headers, 'content-type');
    if (!isJsonContentType(contentType)) {
      return errorResponse(
        'unsupported_media_type',
        'Content-Type must be application/json (UTF-8)',
        contentType === undefined ? undefined : { content_type: contentType.slice(0, 200) },
      );
    }
    let body: Uint8Array | undefined;
    try {
      body = typeof request.body === 'function' ? await request.body(maxBodyBytes) : request.body;
    } catch {
      return errorResponse('unreadable_body', 'The request body could not be read');
    }
    if (body === undefined || body.byteLength > maxBodyBytes) return tooLarge(maxBodyBytes);

    if (verify) {
      const checked = verify(request.headers, body);
      // node:crypto answers at once; only Web Crypto's answer is awaited (no extra turn on Node's hot path).
      const verified = checked instanceof Promise ? await checked : checked;
      if (!verified.ok) {
        log.warn({ reason: verified.code }, 'rejected a request: signature');
        return errorResponse('invalid_signature', verified.message, { reason: verified.code });
      }
    }
    const parsed = parseEvent(body);
    if (!parsed.ok) {
      log.warn({ problems: parsed.problems.slice(0, 5) }, 'rejected a request: invalid payload');
      // The contract's own 400 body, so the answer matches the OpenAPI document byte for byte.
      return jsonResponse(400, invalidPayloadBody(parsed.problems));
    }
    const event = parsed.event;
    const receivedAt = Date.now();
    const ahead = futureProblem(event.event_timestamp, receivedAt, futureToleranceSeconds);
    if (ahead) {
      log.warn({ event_id: event.event_id, problems: [ahead] }, 'rejected a request: dated in the future');
      return jsonResponse(400, invalidPayloadBody([ahead]));
    }
    let outcome: RecordOutcome | undefined;
    try {
      outcome = await record({ event, body, receivedAt });
    } catch (error) {
      // Nothing was promised: the sender retries. Logged once per episode, not per request.
      recording.failed(error, 'events are answered 503 until it can');
      return inboxUnavailable();
    }
    if (outcome === undefined) return inboxUnavailable();
    recording.succeeded();
    stats[outcome]++;
    if (outcome !== 'duplicate' && workerEnabled && !closed && handlers.size > 0) worker.nudge();
    // Per event at debug only: the inbox row already records every event, and a line per request
    // measured 8 µs of the receiver's ~57 µs per event (bench/receiver).
    log.debug?.(
      {
        event_id: event.event_id,
        customer_id: event.data.customer_id,
        client_customer_ref: event.data.client_customer_ref,
        status: event.data.status,
        event_timestamp: event.event_timestamp,
        outcome,
      },
      'event received',
    );
    // `{received, event_id, outcome}`, written directly: the one answer given on every accepted event.
    return {
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: `{"received":true,"event_id":${JSON.stringify(event.event_id)},"outcome":"${outcome}"}`,
    };
  }

  /** This receiver's writers, then the inbox's own background ones. */
  function health(): ReceiverHealth {
    const failing = [recording.failure, handling.failure, ...(inbox.health?.() ?? [])].filter(
      (f): f is WriteFailure => f !== undefined,
    );
    return { writable: failing.length === 0, failing };
  }

  return {
    inbox,
    maxBodyBytes,
    verifiesSignatures: verify !== undefined,
    async handle(request) {
      let response: ReceiverResponse;
      try {
        response = await accept(request);
      } catch (error) {
        // Only a bug gets here; the fuzz test asserts that no input does.
        log.error({ err: error instanceof Error ? error.stack : String(error) }, 'receiver bug');
        response = errorResponse('internal', 'Internal error');
      }
      if (response.status !== 200)
        stats.rejected[response.status] = (stats.rejected[response.status] ?? 0) + 1;
      return response;
    },
    stats() {
      return { ...stats, rejected: { ...stats.rejected } };
    },
    health,
    async checkHealth() {
      // A write each time it is asked (a few a minute under a load balancer): a disk that filled since
      // the last event, or was freed, reads as it is now.
      if (inbox.probe) {
        try {
          await inbox.probe();
          recording.succeeded();
        } catch (error) {
          recording.failed(error, 'events are answered 503 until it can');
        }
      }
      return health();
    },
    on(name, handler) {
      return handlers.add(name, handler);
    },
    async drain() {
      await groupCommit.flush();
      if (!closed) await worker.idle();
    },
    async close() {
      if (closed) return;
      closed = true;
      await groupCommit.flush();
      await worker.stop();
    },
  };
}

function inboxUnavailable(): ReceiverResponse {
  return errorResponse('inbox_unavailable', 'The event could not be recorded; retry later', undefined, {
    'retry-after': String(INBOX_RETRY_AFTER_SECONDS),
  });
}

function tooLarge(limit: number): ReceiverResponse {
  return errorResponse('payload_too_large', `The body exceeds ${limit} bytes`, { limit_bytes: limit });
}
