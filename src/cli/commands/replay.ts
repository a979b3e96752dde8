import type { Command } from 'commander';
import { type ApiAnswer, createApiClient, describeApiError, seg } from '../api-client.js';
import {
  type Arguments,
  addOptions,
  commandAction,
  EXAMPLE_DELIVERY_ID,
  EXAMPLE_WEBHOOK_ID,
  EXIT,
  EXIT_CODES_HELP,
  jsonFlag,
  uuid,
  WEBHOOK_ARGUMENT,
} from '../options.js';

/** Which delivery (the service, token and partner are settings: `TPCS_API`, `TPCS_TOKEN`, `TPCS_CUSTOMER_ID`). */
const ARGUMENTS = {
  webhook: WEBHOOK_ARGUMENT,
  delivery: {
    flag: '--delivery <id>',
    description: 'the delivery id (a UUID, as GET …/webhooks/{id}/deliveries lists them)',
    schema: uuid('a delivery id', EXAMPLE_DELIVERY_ID),
    required: true,
  },
  json: jsonFlag("print the service's answer as JSON"),
} as const satisfies Arguments;

/**
 * `tpcs replay`: sends one delivery again now (`POST …/deliveries/{id}/retry`), whatever its state.
 * Exit 0 when the service queued it, 1 when it refused (unknown id, bad token).
 */
export function registerReplay(program: Command): void {
  const command = program
    .command('replay')
    .description('send one delivery again now (also a delivered or failed one)');
  addOptions(command, 'replay', ARGUMENTS)
    .addHelpText(
      'after',
      `
Examples:
  $ tpcs replay --webhook ${EXAMPLE_WEBHOOK_ID} --delivery ${EXAMPLE_DELIVERY_ID} \\
      --customer-id 0201001008132685 --token tpcs_pk_…
  $ export TPCS_TOKEN=tpcs_pk_… TPCS_CUSTOMER_ID=0201001008132685
  $ tpcs replay --webhook ${EXAMPLE_WEBHOOK_ID} --delivery ${EXAMPLE_DELIVERY_ID} --json
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('replay', ARGUMENTS, async (options) => {
        const api = createApiClient(options.api, options.token);
        const answer = await api.call(
          'POST',
          `/api/v1/customers/${seg(options.customerId)}/webhooks/${seg(options.webhook)}/deliveries/${seg(options.delivery)}/retry`,
        );
        report(answer, options.json, (body) => {
          const d = body as { id?: string; event_id?: string; status?: string };
          return `Queued delivery ${d.id ?? options.delivery} (event ${d.event_id ?? '?'}) to be sent again now; status ${d.status ?? '?'}`;
        });
      }),
    );
}

/**
 * Prints an API answer: `describe(body)` on a 2xx, else the error as `error: <code>: <message>` on
 * stderr, and sets the exit code. Shared by the commands that make one API call.
 */
export function report(
  answer: ApiAnswer,
  json: boolean | undefined,
  describe: (body: unknown) => string,
): boolean {
  const ok = answer.status >= 200 && answer.status < 300;
  if (json) console.log(JSON.stringify({ status: answer.status, body: answer.body }));
  else if (ok) console.log(describe(answer.body));
  if (!ok) console.error(describeApiError(answer));
  process.exitCode = ok ? EXIT.ok : EXIT.failed;
  return ok;
}
