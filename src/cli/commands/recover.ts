import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Delivery } from '../../client/index.js';
import { integer, pointInTime } from '../../config/values.js';
import { type ApiClient, createApiClient, describeApiError } from '../api-client.js';
import {
  type Arguments,
  addOptions,
  type CommandValues,
  commandAction,
  EXAMPLE_WEBHOOK_ID,
  EXIT,
  EXIT_CODES_HELP,
  jsonFlag,
  WEBHOOK_ARGUMENT,
} from '../options.js';
import { startProgress } from '../progress.js';
import { report } from './replay.js';

/** Which endpoint and since when (the service, token and partner are settings: `TPCS_*`). */
const ARGUMENTS = {
  webhook: WEBHOOK_ARGUMENT,
  since: {
    flag: '--since <time>',
    description: 'failed deliveries created since: ISO 8601, unix seconds, or ago (2h, 3d)',
    schema: pointInTime,
    required: true,
  },
  wait: {
    flag: '--wait <seconds>',
    description: 'then wait up to this long for the re-queued deliveries to finish',
    schema: integer(1, 86_400),
  },
  json: jsonFlag("print the service's answer as JSON"),
} as const satisfies Arguments;

type RecoverOptions = CommandValues<'recover', typeof ARGUMENTS>;

/**
 * `tpcs recover`: re-queues every failed delivery of an endpoint created since a time (`POST
 * …/webhooks/{id}/recover`), each with a fresh retry schedule. With `--wait`, follows them until
 * none is pending (progress on a terminal) and exits 1 if any failed again.
 */
export function registerRecover(program: Command): void {
  const command = program
    .command('recover')
    .description('re-queue every failed delivery of an endpoint since a time');
  addOptions(command, 'recover', ARGUMENTS)
    .addHelpText(
      'after',
      `
Examples:
  $ tpcs recover --webhook ${EXAMPLE_WEBHOOK_ID} --since 2025-01-31T00:00:00Z \\
      --customer-id 0201001008132685 --token tpcs_pk_…
  $ TPCS_TOKEN=tpcs_pk_… TPCS_CUSTOMER_ID=0201001008132685 tpcs recover --webhook ${EXAMPLE_WEBHOOK_ID} --since 3d --wait 120
${EXIT_CODES_HELP}`,
    )
    .action(commandAction('recover', ARGUMENTS, recover));
}

async function recover(options: RecoverOptions): Promise<void> {
  const api = createApiClient(options.api, options.token);
  const path = { customer_id: options.customerId, webhook_id: options.webhook };
  const answer = await api.call((client) =>
    client.POST('/api/v1/customers/{customer_id}/webhooks/{webhook_id}/recover', {
      params: { path },
      body: { since: options.since.toISOString() },
    }),
  );
  const requeued = answer.ok ? answer.body.requeued : 0;
  const ok = report(answer, options.json, () =>
    requeued === 0
      ? `No failed deliveries since ${options.since.toISOString()}`
      : `Re-queued ${requeued} failed deliver${requeued === 1 ? 'y' : 'ies'} since ${options.since.toISOString()}`,
  );
  if (!ok || options.wait === undefined || requeued === 0) return;
  const failed = await waitForDeliveries(api, path, options.since, requeued, options.wait * 1000);
  if (failed === undefined) {
    console.error(`tpcs recover: deliveries still pending after ${options.wait} s`);
    process.exitCode = EXIT.failed;
  } else {
    if (!options.json) console.log(failed === 0 ? 'All delivered' : `${failed} failed again`);
    process.exitCode = failed === 0 ? EXIT.ok : EXIT.failed;
  }
}

/** Polls the endpoint's deliveries since `since` until none is pending: the failed count, or undefined on timeout. */
async function waitForDeliveries(
  api: ApiClient,
  path: EndpointPath,
  since: Date,
  total: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const progress = startProgress('recover', total);
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const deliveries = await recentDeliveries(api, path, since);
      const pending = deliveries.filter((d) => d.status === 'pending').length;
      progress.tick(`${pending} pending`, Math.max(0, total - pending));
      if (pending === 0) return deliveries.filter((d) => d.status === 'failed').length;
      await sleep(500);
    }
    return undefined;
  } finally {
    progress.stop();
  }
}

/** The endpoint a recover is about, as the API's paths name it. */
interface EndpointPath {
  customer_id: string;
  webhook_id: string;
}

/** The endpoint's deliveries created since `since`, page by page (newest first). */
async function recentDeliveries(api: ApiClient, path: EndpointPath, since: Date): Promise<Delivery[]> {
  const found: Delivery[] = [];
  let cursor: string | null = null;
  do {
    const query: { limit: number; cursor?: string } =
      cursor === null ? { limit: 100 } : { limit: 100, cursor };
    const answer = await api.call((client) =>
      client.GET('/api/v1/customers/{customer_id}/webhooks/{webhook_id}/deliveries', {
        params: { path, query },
      }),
    );
    // Counting a page that did not come as "none pending" would report the wrong outcome.
    if (!answer.ok) throw new Error(describeApiError(answer));
    const page = answer.body.deliveries;
    const recent = page.filter((d) => new Date(d.created_at) >= since);
    found.push(...recent);
    cursor = recent.length === page.length ? answer.body.next_cursor : null;
  } while (cursor !== null);
  return found;
}
