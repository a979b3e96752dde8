/**
 * Sends one delivery attempt: a signed POST of the event's exact bytes, over a kept-alive
 * connection pool per endpoint origin, with a timeout, no redirects, and the private-address rule
 * checked on the address actually connected.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { buildConnector, type Dispatcher, Pool, errors as undiciErrors } from 'undici';
import { signWebhook } from '../../signing/sign.js';
import {
  checkLiteralHost,
  createGuardedLookup,
  guardedLookup,
  type LookupAll,
  PrivateAddressError,
} from './address-guard.js';
import { type AttemptErrorKind, type AttemptResult, parseRetryAfter } from './outcome.js';

export const USER_AGENT = 'tpcs-dispatcher/0.1';
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 15_000;
/** How much of a response body the attempt log keeps. */
export const RESPONSE_EXCERPT_BYTES = 4096;
/** Bodies up to this size are read to the end so the connection can be reused; longer ones are cut. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

export interface SenderOptions {
  /** Per-attempt timeout, covering connect, headers and body. Default 15 s. */
  timeoutMs?: number;
  /** Allow loopback/private/link-local targets (development and tests only). */
  allowPrivateEndpoints?: boolean;
  /** Connections kept per endpoint origin; also the most attempts in flight to one origin. */
  connectionsPerOrigin?: number;
  /** Idle keep-alive time of a pooled connection. */
  keepAliveTimeoutMs?: number;
  /** How names are resolved (every address, as `dns.lookup` with `all`). Default: the system's. */
  lookup?: LookupAll;
}

/** One message to one URL. */
export interface SendRequest {
  url: string;
  /** `webhook-id`: the event id, the same for every attempt and endpoint. */
  messageId: string;
  /** The stored JSON text, sent byte for byte. */
  payload: string;
  /** Every active secret of the endpoint, newest first; one signature each. */
  secrets: readonly string[];
  /**
   * Which connection pool to use (the endpoint id). Two endpoints on one origin get separate pools,
   * so one that never answers cannot hold the connections the other needs. Default: the origin.
   */
  poolKey?: string;
}

export interface Sender {
  send(request: SendRequest): Promise<AttemptResult>;
  /** Closes every pool now; attempts still in flight end with an error. */
  close(): Promise<void>;
}

/**
 * Creates a sender owning one undici `Pool` (kept-alive connections) per endpoint and origin.
 *
 * @example
 * const sender = createSender({ allowPrivateEndpoints: true });
 * const result = await sender.send({ url, messageId: event.eventId, payload: event.payload, secrets });
 * classifyOutcome(result);
 */
export function createSender(options: SenderOptions = {}): Sender {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  const allowPrivate = options.allowPrivateEndpoints ?? false;
  const baseConnect = buildConnector({
    timeout: timeoutMs,
    ...(allowPrivate ? {} : { lookup: options.lookup ? createGuardedLookup(options.lookup) : guardedLookup }),
  });
  const connect: buildConnector.connector = (opts, callback) => {
    // net.connect skips `lookup` for literal IPs, so those are checked here.
    const refused = allowPrivate ? null : checkLiteralHost(opts.hostname);
    if (refused) return callback(refused, null);
    baseConnect(opts, callback);
  };
  const deadline = sharedDeadlines(timeoutMs);
  const pools = new Map<string, Pool>();
  const poolFor = (key: string, origin: string): Pool => {
    const id = `${key} ${origin}`;
    let pool = pools.get(id);
    if (!pool) {
      pool = new Pool(origin, {
        connections: options.connectionsPerOrigin ?? 16,
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        connect,
      });
      pools.set(id, pool);
    }
    return pool;
  };
  const targets = new Map<string, Target | null>();

  function send(request: SendRequest): Promise<AttemptResult> {
    const startedAt = new Date();
    const target = targetOf(targets, request.url);
    if (!target) {
      return Promise.resolve(failure(startedAt, 0, 'invalid_url', `not an http(s) URL: ${request.url}`));
    }
    let headers: Record<string, string>;
    try {
      headers = {
        ...signWebhook({
          id: request.messageId,
          timestamp: Math.floor(startedAt.getTime() / 1000),
          body: request.payload,
          secrets: request.secrets,
        }),
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
      };
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<AttemptResult>((resolve) => {
      const attempt = new Attempt(startedAt, resolve);
      attempt.deadline = deadline(attempt);
      poolFor(request.poolKey ?? target.origin, target.origin).dispatch(
        { path: target.path, method: 'POST', headers, body: request.payload },
        attempt,
      );
    });
  }

  return {
    send,
    async close() {
      // destroy, not close: close() would wait for requests still in flight, up to the attempt timeout
      await Promise.all([...pools.values()].map((p) => p.destroy()));
      pools.clear();
    },
  };
}

/** Where an endpoint URL is posted: its origin (the pool) and its path with the query. */
interface Target {
  origin: string;
  path: string;
}

/** Endpoint URLs parsed once each (a few hundred per process), `null` for one that is not http(s). */
function targetOf(cache: Map<string, Target | null>, url: string): Target | null {
  let target = cache.get(url);
  if (target !== undefined) return target;
  try {
    const u = new URL(url);
    target =
      u.protocol === 'https:' || u.protocol === 'http:'
        ? { origin: u.origin, path: `${u.pathname}${u.search}` }
        : null;
  } catch {
    target = null;
  }
  if (cache.size >= 10_000) cache.clear();
  cache.set(url, target);
  return target;
}

function failure(
  startedAt: Date,
  durationMs: number,
  errorKind: AttemptErrorKind,
  errorMessage: string,
): AttemptResult {
  return {
    startedAt,
    durationMs,
    statusCode: null,
    errorKind,
    errorMessage,
    responseExcerpt: null,
    retryAfterMs: null,
  };
}

const elapsedSince = (started: number) => Math.round((performance.now() - started) * 10) / 10;

/** Thrown into an attempt whose response body passed {@link DRAIN_LIMIT_BYTES}: its excerpt is kept. */
class BodyCut extends Error {}

/** What a deadline slice ends: an attempt still running when the slice's time is up. */
export interface Timeoutable {
  timeout(reason: Error): void;
}

/**
 * One attempt, as undici's dispatch handler: the status, `Retry-After` and the first bytes of the body
 * are taken as they arrive, without the response stream, async iterator and promise per step of
 * `request()` (bench/sender: they cost more CPU than the rest of the attempt).
 */
class Attempt implements Dispatcher.DispatchHandler, Timeoutable {
  deadline: Set<Timeoutable> | undefined;
  private readonly started = performance.now();
  private controller: Dispatcher.DispatchController | undefined;
  private timedOut: Error | undefined;
  private statusCode: number | null = null;
  private retryAfter: string | string[] | undefined;
  private readonly chunks: Buffer[] = [];
  private total = 0;
  private done = false;

  constructor(
    private readonly startedAt: Date,
    private readonly resolve: (result: AttemptResult) => void,
  ) {}

  timeout(reason: Error): void {
    if (this.done) return;
    if (this.controller) this.controller.abort(reason);
    else this.timedOut = reason; // not on a connection yet: ended as soon as it gets one
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.timedOut) controller.abort(this.timedOut);
    else this.controller = controller;
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx: the answer is still to come
    this.statusCode = statusCode;
    this.retryAfter = headers['retry-after'];
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.total < RESPONSE_EXCERPT_BYTES) this.chunks.push(chunk);
    this.total += chunk.length;
    if (this.total > DRAIN_LIMIT_BYTES) controller.abort(new BodyCut());
  }

  onResponseEnd(): void {
    this.answered();
  }

  onResponseError(_c: Dispatcher.DispatchController | undefined, error: Error): void {
    if (error instanceof BodyCut) {
      this.answered();
      return;
    }
    const [kind, message] = describeError(error);
    this.finish(failure(this.startedAt, elapsedSince(this.started), kind, message));
  }

  private answered(): void {
    let excerpt: string | null = null;
    if (this.total > 0) {
      const bytes = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
      // Cutting at a byte count can split a UTF-8 character; the decoder replaces the stub, which is fine for a log.
      excerpt = bytes.subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
    }
    this.finish({
      startedAt: this.startedAt,
      durationMs: elapsedSince(this.started),
      statusCode: this.statusCode,
      errorKind: null,
      errorMessage: null,
      responseExcerpt: excerpt,
      retryAfterMs: parseRetryAfter(this.retryAfter, new Date()),
    });
  }

  private finish(result: AttemptResult): void {
    if (this.done) return;
    this.done = true;
    this.deadline?.delete(this);
    this.resolve(result);
  }
}

/**
 * Ends each attempt `timeoutMs` after it started (connect, headers and body together), with the
 * attempts that start within the same slice of time (100 ms, or a tenth of a shorter timeout) sharing
 * one timer: each ends between `timeoutMs` and `timeoutMs` + one slice after its start. A timer (or an
 * `AbortSignal.timeout`) per attempt cost more than the rest of the attempt's own work (bench/sender:
 * 30 µs of CPU a request); a shared one costs one timer a slice. An attempt that ends leaves its slice.
 *
 * @example
 * const deadline = sharedDeadlines(15_000);
 * const slice = deadline(attempt); // attempt.timeout(err) once its time is up
 * slice.delete(attempt); // when it ends first
 */
export function sharedDeadlines(timeoutMs: number): (attempt: Timeoutable) => Set<Timeoutable> {
  const slice = Math.max(1, Math.min(100, timeoutMs / 10));
  let current: { until: number; attempts: Set<Timeoutable> } | undefined;
  return (attempt) => {
    const now = performance.now();
    if (!current || now >= current.until) {
      const attempts = new Set<Timeoutable>();
      setTimeout(() => {
        const reason = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
        for (const a of attempts) a.timeout(reason);
        attempts.clear();
      }, timeoutMs + slice).unref();
      current = { until: now + slice, attempts };
    }
    current.attempts.add(attempt);
    return current.attempts;
  };
}

function describeError(err: unknown): [AttemptErrorKind, string] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  for (const e of chain) {
    if (e instanceof PrivateAddressError) return ['private_address', e.message];
  }
  const first = chain[0] as { name?: string; message?: string; code?: string } | undefined;
  const message = first?.message ?? String(err);
  for (const e of chain) {
    const code = (e as { code?: string }).code ?? '';
    const name = (e as { name?: string }).name ?? '';
    if (
      e instanceof undiciErrors.ConnectTimeoutError ||
      e instanceof undiciErrors.HeadersTimeoutError ||
      e instanceof undiciErrors.BodyTimeoutError ||
      name === 'TimeoutError' ||
      code === 'ETIMEDOUT' ||
      code === 'UND_ERR_CONNECT_TIMEOUT'
    ) {
      return ['timeout', `no response within the attempt timeout (${message})`];
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return ['dns', message];
    if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SSL|TLS/.test(code))
      return ['tls', message];
    if (
      ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code) ||
      code === 'UND_ERR_SOCKET' ||
      code === 'UND_ERR_CLOSED'
    ) {
      return ['connection', message];
    }
  }
  return ['other', message];
}
