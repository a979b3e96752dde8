import type { Command } from 'commander';
import { text } from '../../config/values.js';
import { createApiClient } from '../api-client.js';
import {
  type Arguments,
  addOptions,
  commandAction,
  EXIT_CODES_HELP,
  jsonFlag,
  PARTNER_ARGUMENT,
} from '../options.js';
import { report } from './replay.js';

/** The partner to create (the service and the operator token are settings: `TPCS_API`, `ADMIN_TOKEN`). */
const ARGUMENTS = {
  customerId: PARTNER_ARGUMENT,
  name: { flag: '--name <name>', description: "the partner's display name", schema: text('a name') },
  json: jsonFlag("print the service's answer as JSON"),
} as const satisfies Arguments;

/**
 * `tpcs partners create`: the operator creates a partner (`POST /api/v1/admin/partners`) and gets its
 * bearer token, shown only this once. Exit 1 if the partner exists (409) or the token is refused.
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
  $ ADMIN_TOKEN=tpcs_adm_… tpcs partners create --customer-id 0201001008132685 --json | jq -r .body.token
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('partners create', ARGUMENTS, async (options) => {
        const api = createApiClient(options.api, options.adminToken);
        const answer = await api.call((client) =>
          client.POST('/api/v1/admin/partners', {
            body: {
              customer_id: options.customerId,
              ...(options.name === undefined ? {} : { name: options.name }),
            },
          }),
        );
        report(
          answer,
          options.json,
          ({ token }) =>
            `Created partner ${options.customerId}.\nPartner token (shown only now, store it): ${token}\nUse it as: export TPCS_TOKEN=${token} TPCS_CUSTOMER_ID=${options.customerId}`,
        );
      }),
    );
}
