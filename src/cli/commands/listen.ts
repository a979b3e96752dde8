import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { request } from 'undici';
import { httpUrl, integer } from '../../config/values.js';
import { postRaw } from '../../conformance/post.js';
import { generateSecret, signWebhook } from '../../signing/index.js';
import { apiAnswer, describeApiError, seg } from '../api-client.js';
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

/**
 * `tpcs listen`: like `stripe listen`. Subscribes to the running service's event stream as a partner
 * and forwards each new event to a local URL, signed with this session's secret, printing one line
 * per event. Runs until Ctrl-C (exit 0); exit 1 when the service refuses the subscription.
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
event it saw.

Examples:
  $ tpcs listen --forward-to http://127.0.0.1:3000/webhook --customer-id 0201001008132685 --token tpcs_pk_…
  $ TPCS_TOKEN=tpcs_pk_… TPCS_CUSTOMER_ID=0201001008132685 tpcs listen --forward-to http://127.0.0.1:3000/webhook
${EXIT_CODES_HELP}`,
    )
    .action(commandAction('listen', ARGUMENTS, listen));
}

async function listen(options: ListenOptions): Promise<void> {
  const sessionSecret = options.signingSecret ?? generateSecret();
  const streamUrl = `${options.api}/api/v1/customers/${seg(options.customerId)}/events/stream`;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let lastEventId: string | undefined;
  let announced = false;
  try {
    while (!stop.signal.aborted) {
      let response: Awaited<ReturnType<typeof request>>;
      try {
        response = await request(streamUrl, {
          headers: {
            authorization: `Bearer ${options.token}`,
            accept: 'text/event-stream',
            ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
          },
          signal: stop.signal,
          // Heartbeats come every 15 s; a silent minute means the connection is dead.
          bodyTimeout: 60_000,
        });
      } catch (error) {
        if (stop.signal.aborted) break;
        if (!announced) {
          console.error(
            `tpcs listen: cannot reach the service at ${options.api}: ${(error as Error).message}`,
          );
          process.exitCode = EXIT.failed;
          return;
        }
        console.error(`tpcs listen: reconnecting (${(error as Error).message})`);
        await sleep(RECONNECT_MS, undefined, { signal: stop.signal }).catch(() => {});
        continue;
      }
      if (response.statusCode !== 200) {
        console.error(describeApiError(apiAnswer(response.statusCode, await response.body.text())));
        process.exitCode = EXIT.failed;
        return;
      }
      if (!announced) {
        announced = true;
        console.log(
          `Ready! Forwarding events of ${options.customerId} from ${options.api} to ${options.forwardTo}`,
        );
        console.log(`Your webhook signing secret is ${sessionSecret} (^C to quit)`);
      }
      try {
        for await (const message of readSse(response.body)) {
          if (message.event !== 'event' || message.id === undefined) continue;
          lastEventId = message.id;
          await forward(options, sessionSecret, message.id, message.data);
        }
      } catch (error) {
        if (stop.signal.aborted) break;
        console.error(`tpcs listen: stream interrupted (${(error as Error).message}); reconnecting`);
      }
      if (!stop.signal.aborted) await sleep(RECONNECT_MS, undefined, { signal: stop.signal }).catch(() => {});
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.exitCode ??= EXIT.ok;
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
