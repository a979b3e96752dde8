import type { Command } from 'commander';
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

/** The partner whose token is replaced (the service and the operator token are settings). */
const ARGUMENTS = {
  customerId: PARTNER_ARGUMENT,
  json: jsonFlag("print the service's answer as JSON"),
} as const satisfies Arguments;

/** How the operator's token works, for `tpcs tokens admin`. */
const ADMIN_TOKEN_EXPLAINED = `The operator (admin) token guards /api/v1/admin/* and works on every partner route too.

- Set ADMIN_TOKEN (16+ characters, no spaces) in the service's environment to choose it; the
  service then uses exactly that token, on every start.
- Without ADMIN_TOKEN, the first start generates one (tpcs_adm_…), stores only its SHA-256 hash in
  the database and prints it once ("Admin token (shown only this once, store it now): …").
  Later starts print nothing.
- Lost it? Start the service with ADMIN_TOKEN set: that token takes over.
- The CLI reads it from --admin-token or ADMIN_TOKEN.

Partner tokens (tpcs_pk_…) are bound to one customer_id; create them with \`tpcs partners create\`
and replace a leaked one with \`tpcs tokens reset --customer-id …\` (the old one stops at once, and
so do the dashboard sessions it opened). Changing ADMIN_TOKEN likewise ends the operator's sessions.`;

/** `tpcs tokens`: operator conveniences for bearer tokens. */
export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('operator: partner and admin tokens');
  const reset = tokens
    .command('reset')
    .description("replace a partner's bearer token; the old one and its dashboard sessions stop at once");
  addOptions(reset, 'tokens reset', ARGUMENTS)
    .addHelpText(
      'after',
      `
Example:
  $ tpcs tokens reset --customer-id 0201001008132685 --admin-token tpcs_adm_…
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('tokens reset', ARGUMENTS, async (options) => {
        const api = createApiClient(options.api, options.adminToken);
        const answer = await api.call((client) =>
          client.POST('/api/v1/admin/partners/{customer_id}/token', {
            params: { path: { customer_id: options.customerId } },
          }),
        );
        report(
          answer,
          options.json,
          ({ token }) =>
            `New token for partner ${options.customerId} (shown only now; the old one no longer works): ${token}`,
        );
      }),
    );
  tokens
    .command('admin')
    .description('explain how the operator (admin) token is set, printed and replaced')
    .addHelpText(
      'after',
      `
Example:
  $ tpcs tokens admin
${EXIT_CODES_HELP}`,
    )
    .action(() => {
      console.log(ADMIN_TOKEN_EXPLAINED);
    });
}
