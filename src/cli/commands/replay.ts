import type { Command } from 'commander';
import { type ApiResult, createApiClient, describeApiError } from '../api-client.js';
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
        const answer = await api.call((client) =>
          client.POST(
            '/api/v1/customers/{customer_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry',
            {
              params: {
                path: {
                  customer_id: options.customerId,
                  webhook_id: options.webhook,
                  delivery_id: options.delivery,
                },
              },
            },
          ),
        );
        report(
          answer,
          options.json,
          (delivery) =>
            `Queued delivery ${delivery.id} (event ${delivery.event_id}) to be sent again now; status ${delivery.status}`,
        );
      }),
    );
}

/**
 * Prints an API answer: `describe(body)` on a 2xx, else the error as `error: <code>: <message>` on
 * stderr, and sets the exit code. Shared by the commands that make one API call.
 */
export function report<T>(
  answer: ApiResult<T>,
  json: boolean | undefined,
  describe: (body: T) => string,
): boolean {
  if (json) console.log(JSON.stringify({ status: answer.status, body: answer.body }));
  else if (answer.ok) console.log(describe(answer.body));
  if (!answer.ok) console.error(describeApiError(answer));
  process.exitCode = answer.ok ? EXIT.ok : EXIT.failed;
  return answer.ok;
}
