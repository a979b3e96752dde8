import type { Command } from 'commander';
import { type ApiAnswer, createApiClient, describeApiError, seg } from '../api-client.js';
import {
  apiOption,
  customerIdOption,
  EXIT,
  EXIT_CODES_HELP,
  runAction,
  setting,
  tokenOption,
} from '../options.js';

interface ReplayOptions {
  webhook: string;
  delivery: string;
  api: string;
  token: string;
  customerId: string;
  json?: boolean;
}

/**
 * `tpcs replay`: sends one delivery again now (`POST …/deliveries/{id}/retry`), whatever its state.
 * Exit 0 when the service queued it, 1 when it refused (unknown id, bad token).
 */
export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('send one delivery again now (also a delivered or failed one)')
    .addOption(
      setting<string>({ flags: '--webhook <id>', description: 'the webhook endpoint id', required: true }),
    )
    .addOption(setting<string>({ flags: '--delivery <id>', description: 'the delivery id', required: true }))
    .addOption(tokenOption())
    .addOption(customerIdOption())
    .addOption(apiOption())
    .option('--json', "print the service's answer as JSON")
    .addHelpText(
      'after',
      `
Examples:
  $ tpcs replay --webhook wh_… --delivery dl_… --customer-id 0201001008132685 --token tpcs_pk_…
  $ export TPCS_TOKEN=tpcs_pk_… TPCS_CUSTOMER_ID=0201001008132685; tpcs replay --webhook wh_… --delivery dl_…
${EXIT_CODES_HELP}`,
    )
    .action(
      runAction('replay', async (options: ReplayOptions) => {
        const api = createApiClient(options.api, options.token);
        const answer = await api.call(
          'POST',
          `/api/v1/customers/${seg(options.customerId)}/webhooks/${seg(options.webhook)}/deliveries/${seg(options.delivery)}/retry`,
        );
        report('replay', answer, options.json, (body) => {
          const d = body as { id?: string; event_id?: string; status?: string };
          return `Queued delivery ${d.id ?? options.delivery} (event ${d.event_id ?? '?'}) to be sent again now; status ${d.status ?? '?'}`;
        });
      }),
    );
}

/**
 * Prints an API answer: `describe(body)` on a 2xx, the error on anything else, and sets the exit code.
 * Shared by the commands that make one API call.
 */
export function report(
  name: string,
  answer: ApiAnswer,
  json: boolean | undefined,
  describe: (body: unknown) => string,
): boolean {
  const ok = answer.status >= 200 && answer.status < 300;
  if (json) console.log(JSON.stringify({ status: answer.status, body: answer.body }));
  else if (ok) console.log(describe(answer.body));
  if (!ok) console.error(`tpcs ${name}: the service refused: ${describeApiError(answer)}`);
  process.exitCode = ok ? EXIT.ok : EXIT.failed;
  return ok;
}
