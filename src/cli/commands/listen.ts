import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { httpUrl, integer } from '../../config/values.js';
import { postRaw } from '../../conformance/post.js';
import { generateSecret, signWebhook } from '../../signing/index.js';
import { type ApiResult, createApiClient, describeApiError } from '../api-client.js';
import {
  type Arguments,
  addOptions,
  type CommandValues,
  commandAction,
  EXIT,
  EXIT_CODES_HELP,
  jsonFlag,
} from '../options.js';
import { readSse } from '../sse.js';

/** Where to forward this time (the service, token and secret are settings: `TPCS_*`, `WEBHOOK_SECRET`). */
const ARGUMENTS = {
  forwardTo: {
    flag: '--forward-to <url>',
    description: 'where to POST each event (your local receiver)',
    schema: httpUrl,
    required: true,
  },
  timeout: {
    flag: '--timeout <ms>',
    description: 'per forwarded request',
    schema: integer(1, 600_000),
    default: '10000',
  },
  json: jsonFlag('print one JSON object per event instead of text'),
} as const satisfies Arguments;

type ListenOptions = CommandValues<'listen', typeof ARGUMENTS>;

/** Waits between reconnections after the stream drops (the service restarting, say). */
const RECONNECT_MS = 1_000;
/** Heartbeats come every 15 s: a silent minute means the connection is dead. */
const SILENCE_MS = 60_000;
/** How long a stopped listen (Ctrl-C, SIGTERM) may take to finish what it is doing before it exits. */
const STOP_GRACE_MS = 3_000;
/** The longest wait before connecting again, whatever `Retry-After` asks. */
const MAX_RETRY_WAIT_MS = 60_000;
/** Refusals that pass: the service is busy (429), restarting or overloaded (5xx, a proxy's 502/504). */
const RETRYABLE = (status: number) => status === 408 || status === 429 || status >= 500;
/** Refusals that will not pass by waiting, with what to check. */
const HINTS: Record<number, string> = {
  401: 'check --token or TPCS_TOKEN',
  403: "check that the token is this partner's: --customer-id or TPCS_CUSTOMER_ID",
  404: 'check --customer-id or TPCS_CUSTOMER_ID, and --api or TPCS_API',
};

/**
 * `tpcs listen`: like `stripe listen`. Subscribes to the running service's event stream as a partner
 * and forwards each new event to a local URL, signed with this session's secret, printing one line
 * per event. Runs until Ctrl-C (exit 0). A busy or restarting service (429, 503, …) is waited for,
 * as long as its `Retry-After` says (at most a minute at a time); exit 1 when the service cannot be
 * reached at start or refuses the subscription (401, 403, 404).
 */
export function registerListen(program: Command): void {
  const command = program
    .command('listen')
    .description("forward a partner's events from a running service to a local URL as they happen");
  addOptions(command, 'listen', ARGUMENTS)
    .addHelpText(
      'after',
      `
Events are the partner's, byte for byte as the service delivers them; the Standard Webhooks headers
are made here with the session secret, so your receiver needs only that secret. Only events emitted
after listen starts are forwarded; if the stream drops, listen reconnects and resumes after the last
event it saw. A busy or restarting service (429, 503) is waited for as its Retry-After says (at most
a minute at a time); a refused token or an unknown partner (401, 403, 404) ends listen with exit 1.

Examples:
  $ tpcs listen --forward-to http://127.0.0.1:3000/webhook --customer-id 0201001008132685 --token tpcs_pk_…
  $ export TPCS_API=https://tpcs.example TPCS_TOKEN=tpcs_pk_… TPCS_CUSTOMER_ID=0201001008132685
  $ tpcs listen --forward-to http://127.0.0.1:3000/webhook
  $ tpcs listen --forward-to http://127.0.0.1:3000/webhook --secret whsec_… --json > events.jsonl
${EXIT_CODES_HELP}`,
    )
    .action(commandAction('listen', ARGUMENTS, listen));
}

async function listen(options: ListenOptions): Promise<void> {
  const sessionSecret = options.signingSecret ?? generateSecret();
  // No overall timeout: the stream stays open; a silent connection is dropped instead (SILENCE_MS).
  const api = createApiClient(options.api, options.token, null);
  const stop = new AbortController();
  // The open stream's reader, cancelled on Ctrl-C. Aborting the request alone is not enough: the
  // client builds a `Request` with the signal, and once that object is garbage-collected undici no
  // longer follows the signal (nodejs/undici#3644, nodejs/node#55428, open). A CI run at full load
  // left listen streaming heartbeats ~100 s after its SIGINT.
  const readers = new Set<ReadableStreamDefaultReader<Uint8Array>>();
  const onSignal = () => {
    stop.abort();
    for (const reader of readers) void reader.cancel().catch(() => {});
    // and whatever else is still pending (a forward): a stopped listen ends within a few seconds
    setTimeout(() => process.exit(process.exitCode ?? EXIT.ok), STOP_GRACE_MS).unref();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const pause = (ms: number) => sleep(ms, undefined, { signal: stop.signal }).catch(() => {});

  let lastEventId: string | undefined;
  let announced = false;
  let refusals = 0;
  try {
    while (!stop.signal.aborted) {
      const connection = new AbortController();
      const silence = watchdog(SILENCE_MS, () => connection.abort(new Error('no data for a minute')));
      let answer: ApiResult<ReadableStream<Uint8Array>>;
      try {
        answer = await api.call((client) =>
          client.GET('/api/v1/customers/{customer_id}/events/stream', {
            params: {
              path: { customer_id: options.customerId },
              ...(lastEventId === undefined ? {} : { header: { 'last-event-id': lastEventId } }),
            },
            headers: { accept: 'text/event-stream' },
            parseAs: 'stream',
            signal: AbortSignal.any([stop.signal, connection.signal]),
          }),
        );
      } catch (error) {
        silence.stop();
        if (stop.signal.aborted) break;
        // Not there at all at start: a wrong --api, most likely; say so now rather than wait.
        if (!announced) throw error;
        console.error(`tpcs listen: reconnecting (${(error as Error).message})`);
        await pause(RECONNECT_MS);
        continue;
      }
      if (!answer.ok || answer.status !== 200) {
        silence.stop();
        connection.abort();
        const refusal = describeApiError(answer).split('\n')[0] ?? '';
        if (!RETRYABLE(answer.status)) {
          const hint = HINTS[answer.status];
          console.error(hint === undefined ? refusal : `${refusal}; ${hint}`);
          process.exitCode = EXIT.failed;
          return;
        }
        refusals += 1;
        const waitMs = retryWait(answer.headers.get('retry-after') ?? undefined, refusals);
        console.error(
          `tpcs listen: the service answered ${answer.status}; connecting again in ${Math.round(waitMs / 1000)} s (${refusal})`,
        );
        await pause(waitMs);
        continue;
      }
      refusals = 0;
      if (!announced) {
        announced = true;
        console.log(
          `Ready! Forwarding events of ${options.customerId} from ${options.api} to ${options.forwardTo}`,
        );
        console.log(`Your webhook signing secret is ${sessionSecret} (^C to quit)`);
      }
      try {
        for await (const message of readSse(chunksOf(answer.body, silence.reset, readers))) {
          if (message.event !== 'event' || message.id === undefined) continue;
          lastEventId = message.id;
          await forward(options, sessionSecret, message.id, message.data);
        }
      } catch (error) {
        if (stop.signal.aborted) break;
        console.error(`tpcs listen: stream interrupted (${(error as Error).message}); reconnecting`);
      } finally {
        silence.stop();
        // Whatever ended the stream, close the connection (a no-op once it has ended).
        connection.abort();
      }
      if (!stop.signal.aborted) await pause(RECONNECT_MS);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.exitCode ??= EXIT.ok;
}

/** Calls `onSilence` once `ms` pass without a `reset`. */
function watchdog(ms: number, onSilence: () => void): { reset(): void; stop(): void } {
  let timer = setTimeout(onSilence, ms);
  return {
    reset() {
      clearTimeout(timer);
      timer = setTimeout(onSilence, ms);
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

/**
 * A response body's chunks, calling `onChunk` as each arrives; the body is cancelled when left early.
 * Its reader is in `open` while it reads (so that Ctrl-C can cancel it).
 */
async function* chunksOf(
  body: ReadableStream<Uint8Array>,
  onChunk: () => void,
  open: Set<ReadableStreamDefaultReader<Uint8Array>>,
): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  open.add(reader);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onChunk();
      yield value;
    }
  } finally {
    open.delete(reader);
    await reader.cancel().catch(() => {});
  }
}

/**
 * How long to wait after the `n`th refusal in a row: the `Retry-After` (seconds or an HTTP date) when
 * given, else 1, 2, 4… seconds; at most {@link MAX_RETRY_WAIT_MS}, at least half a second.
 *
 * @example
 * retryWait('5', 1); // 5000
 * retryWait(undefined, 3); // 4000
 */
export function retryWait(header: string | string[] | undefined, n: number, now = Date.now()): number {
  const value = Array.isArray(header) ? header[0] : header;
  let ms: number | undefined;
  if (value !== undefined && /^\s*\d+\s*$/.test(value)) ms = Number(value) * 1000;
  else if (value !== undefined && !Number.isNaN(Date.parse(value))) ms = Date.parse(value) - now;
  ms ??= RECONNECT_MS * 2 ** Math.min(n - 1, 6);
  return Math.min(MAX_RETRY_WAIT_MS, Math.max(500, ms));
}

/** Signs and POSTs one event to the local URL, and prints what happened. */
async function forward(
  options: ListenOptions,
  sessionSecret: string,
  eventId: string,
  payload: string,
): Promise<void> {
  const headers = signWebhook({
    id: eventId,
    timestamp: Math.floor(Date.now() / 1000),
    body: payload,
    secrets: [sessionSecret],
  });
  const outcome = await postRaw(
    options.forwardTo,
    { ...headers, 'content-type': 'application/json' },
    payload,
    options.timeout,
  );
  let status = '?';
  let who = '';
  try {
    const event = JSON.parse(payload) as {
      data?: { status?: string; customer_id?: string; client_customer_ref?: string };
    };
    status = event.data?.status ?? '?';
    who = `${event.data?.customer_id ?? ''}/${event.data?.client_customer_ref ?? ''}`;
  } catch {
    // Not JSON: forwarded anyway, as the service would deliver it.
  }
  if (options.json) {
    console.log(
      JSON.stringify({
        event_id: eventId,
        status,
        forwarded_to: options.forwardTo,
        response_status: outcome.ok ? outcome.status : null,
        error: outcome.ok ? null : outcome.error,
        duration_ms: outcome.durationMs,
      }),
    );
    return;
  }
  const result = outcome.ok ? `${outcome.status} (${outcome.durationMs} ms)` : `failed: ${outcome.error}`;
  console.log(
    `${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}  ${eventId}  ${status.padEnd(8)}  ${who}  → ${result}`,
  );
}
