import type { Command } from 'commander';
import { createApiClient } from '../api-client.js';
import { adminTokenOption, apiOption, EXIT_CODES_HELP, runAction, setting } from '../options.js';
import { report } from './replay.js';

interface CreateOptions {
  customerId: string;
  name?: string;
  api: string;
  adminToken: string;
  json?: boolean;
}

/**
 * `tpcs partners create`: the operator creates a partner (`POST /api/v1/admin/partners`) and gets its
 * bearer token, shown only this once. Exit 1 if the partner exists (409) or the token is refused.
 */
export function registerPartners(program: Command): void {
  const partners = program.command('partners').description('operator: manage partner accounts (admin API)');
  partners
    .command('create')
    .description('create a partner and print its bearer token (shown only now)')
    .addOption(
      setting<string>({
        flags: '--customer-id <id>',
        description: "the partner's customer_id",
        required: true,
      }),
    )
    .addOption(setting<string>({ flags: '--name <name>', description: "the partner's display name" }))
    .addOption(adminTokenOption())
    .addOption(apiOption())
    .option('--json', "print the service's answer as JSON")
    .addHelpText(
      'after',
      `
Examples:
  $ tpcs partners create --customer-id 0201001008132685 --name "Acme Homes" --admin-token tpcs_adm_…
  $ ADMIN_TOKEN=tpcs_adm_… tpcs partners create --customer-id 0201001008132685 --json | jq -r .body.token
${EXIT_CODES_HELP}`,
    )
    .action(
      runAction('partners create', async (options: CreateOptions) => {
        const api = createApiClient(options.api, options.adminToken);
        const answer = await api.call('POST', '/api/v1/admin/partners', {
          customer_id: options.customerId,
          ...(options.name === undefined ? {} : { name: options.name }),
        });
        report('partners create', answer, options.json, (body) => {
          const { token } = body as { token: string };
          return `Created partner ${options.customerId}.\nPartner token (shown only now, store it): ${token}\nUse it as: export TPCS_TOKEN=${token} TPCS_CUSTOMER_ID=${options.customerId}`;
        });
      }),
    );
}
