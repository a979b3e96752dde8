import type { Command } from 'commander';
import { boolean, oneOf, text } from '../../config/values.js';
import { type ApiResult, createApiClient, describeApiError } from '../api-client.js';
import {
  type Arguments,
  addOptions,
  commandAction,
  EXIT,
  EXIT_CODES_HELP,
  jsonFlag,
  PARTNER_ARGUMENT,
} from '../options.js';
import { report } from './replay.js';

/** The partner to create (the service and the operator token are settings: `TPCS_API`, `ADMIN_TOKEN`). */
const ARGUMENTS = {
  customerId: PARTNER_ARGUMENT,
  name: { flag: '--name <name>', description: "the partner's display name", schema: text('a name') },
  ifExists: {
    flag: '--if-exists <action>',
    description:
      'when the partner exists already: fail (exit 1), or reset-token (replace its token and print the new one)',
    schema: oneOf(['fail', 'reset-token']),
    default: 'fail',
  },
  quiet: {
    flag: '-q, --quiet',
    description: 'print only the token, for scripts: TOKEN=$(tpcs partners create … -q)',
    schema: boolean,
  },
  json: jsonFlag("print the service's answer as JSON"),
} as const satisfies Arguments;

/**
 * `tpcs partners create`: the operator creates a partner (`POST /api/v1/admin/partners`) and gets its
 * bearer token, shown only this once. Exit 1 if the partner exists (409) or the token is refused;
 * with `--if-exists reset-token`, an existing partner's token is replaced instead, so a setup script
 * can run twice.
 */
export function registerPartners(program: Command): void {
  const partners = program.command('partners').description('operator: manage partner accounts (admin API)');
  const create = partners
    .command('create')
    .description('create a partner and print its bearer token (shown only now)');
  addOptions(create, 'partners create', ARGUMENTS)
    .addHelpText(
      'after',
      `
Examples:
  $ tpcs partners create --customer-id 0201001008132685 --name "Acme Homes" --admin-token tpcs_adm_…
  $ export ADMIN_TOKEN=tpcs_adm_…
  $ TOKEN=$(tpcs partners create --customer-id 0201001008132685 --if-exists reset-token -q)
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('partners create', ARGUMENTS, async (options) => {
        const api = createApiClient(options.api, options.adminToken);
        const customerId = options.customerId;
        let answer: ApiResult<{ customer_id: string; token: string }> = await api.call((client) =>
          client.POST('/api/v1/admin/partners', {
            body: {
              customer_id: customerId,
              ...(options.name === undefined ? {} : { name: options.name }),
            },
          }),
        );
        let headline = `Created partner ${customerId}.`;
        if (!answer.ok && answer.status === 409 && options.ifExists === 'reset-token') {
          // Said on stderr, so that `TOKEN=$(…)` still captures only the token.
          console.error(
            `Partner ${customerId} exists already: replacing its token (the old one stops working).`,
          );
          answer = await api.call((client) =>
            client.POST('/api/v1/admin/partners/{customer_id}/token', {
              params: { path: { customer_id: customerId } },
            }),
          );
          headline = `Partner ${customerId} exists already; its token was replaced.`;
        }
        if (options.quiet && !options.json) {
          if (answer.ok) console.log(answer.body.token);
          else console.error(describeApiError(answer));
          process.exitCode = answer.ok ? EXIT.ok : EXIT.failed;
          return;
        }
        report(
          answer,
          options.json,
          ({ token }) =>
            `${headline}\nPartner token (shown only now, store it): ${token}\nUse it as: export TPCS_TOKEN=${token} TPCS_CUSTOMER_ID=${customerId}`,
        );
      }),
    );
}
