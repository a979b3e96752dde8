/**
 * Sends one delivery attempt: a signed POST of the event's exact bytes, over a kept-alive
 * connection pool per endpoint origin, with a timeout, no redirects, and the private-address rule
 * checked on the address actually connected.
 */
import { setMaxListeners } from 'node:events';
import { buildConnector, Pool, errors as undiciErrors } from 'undici';
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

  async function send(request: SendRequest): Promise<AttemptResult> {
    const startedAt = new Date();
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    const failed = (errorKind: AttemptErrorKind, errorMessage: string): AttemptResult => ({
      startedAt,
      durationMs: elapsed(),
      statusCode: null,
      errorKind,
      errorMessage,
      responseExcerpt: null,
      retryAfterMs: null,
    });

    let url: URL;
    try {
      url = new URL(request.url);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      return failed('invalid_url', `not an http(s) URL: ${request.url}`);
    }
    const headers = {
      ...signWebhook({
        id: request.messageId,
        timestamp: Math.floor(startedAt.getTime() / 1000),
        body: request.payload,
        secrets: request.secrets,
      }),
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
    };
    try {
      const response = await poolFor(request.poolKey ?? url.origin, url.origin).request({
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers,
        body: request.payload,
        signal: deadline(),
      });
      const excerpt = await readExcerpt(response.body);
      return {
        startedAt,
        durationMs: elapsed(),
        statusCode: response.statusCode,
        errorKind: null,
        errorMessage: null,
        responseExcerpt: excerpt,
        retryAfterMs: parseRetryAfter(response.headers['retry-after'], new Date()),
      };
    } catch (err) {
      const [kind, message] = describeError(err);
      return failed(kind, message);
    }
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

/**
 * The signal that ends an attempt `timeoutMs` after it started (connect, headers and body together),
 * shared by the attempts that start within the same slice of time: from `timeoutMs` to `timeoutMs` +
 * one slice (100 ms, or a tenth of a shorter timeout) after each one's start. An `AbortSignal.timeout`
 * per attempt cost more than the rest of the attempt's own work (bench/sender: 30 µs of CPU a request,
 * 98 against 63 without); a shared one costs one timer a slice.
 *
 * @example
 * const deadline = sharedDeadlines(15_000);
 * await pool.request({ path: '/', method: 'POST', signal: deadline() });
 */
export function sharedDeadlines(timeoutMs: number): () => AbortSignal {
  const slice = Math.max(1, Math.min(100, timeoutMs / 10));
  let current: { until: number; signal: AbortSignal } | undefined;
  return () => {
    const now = performance.now();
    if (current && now < current.until) return current.signal;
    const controller = new AbortController();
    // one listener per attempt in flight that started in this slice: many, by design
    setMaxListeners(0, controller.signal);
    setTimeout(
      () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      timeoutMs + slice,
    ).unref();
    current = { until: now + slice, signal: controller.signal };
    return controller.signal;
  };
}

async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    if (total < RESPONSE_EXCERPT_BYTES) chunks.push(chunk);
    total += chunk.length;
    if (total > DRAIN_LIMIT_BYTES) {
      body.destroy();
      break;
    }
  }
  if (total === 0) return null;
  // Cutting at a byte count can split a UTF-8 character; the decoder replaces the stub, which is fine for a log.
  return Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
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
