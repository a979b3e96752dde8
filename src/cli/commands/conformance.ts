import type { Command } from 'commander';
import { z } from 'zod';
import { httpUrl, integer, text } from '../../config/values.js';
import {
  formatReport,
  runConformance,
  STATUS_URL_FIELDS,
  selectChecks,
  statusUrlFor,
} from '../../conformance/index.js';
import {
  type Arguments,
  addOptions,
  type CommandValues,
  commandAction,
  EXIT,
  EXIT_CODES_HELP,
  jsonFlag,
  UsageError,
} from '../options.js';
import { startProgress } from '../progress.js';
import { unreachable } from '../reach.js';

/** A status URL template: naming both fields, and an http(s) URL once they are filled in. */
const statusUrlTemplate = z
  .string()
  .trim()
  .superRefine((template, ctx) => {
    const missing = STATUS_URL_FIELDS.filter((field) => !template.includes(field));
    const filled = statusUrlFor(template, { customerId: 'c', clientCustomerRef: 'r' });
    if (missing.length > 0 || !httpUrl.safeParse(filled).success) {
      ctx.addIssue({
        code: 'custom',
        message: `expected an http(s) URL with ${STATUS_URL_FIELDS.join(' and ')} in it, e.g. http://127.0.0.1:3000/statuses/{customer_id}/{client_customer_ref}`,
      });
    }
  });

/** What to test this time (the secret is a setting: `WEBHOOK_SECRET`). */
const ARGUMENTS = {
  url: { flag: '--url <url>', description: "the receiver's URL", schema: httpUrl, required: true },
  customerId: {
    flag: '--customer-id <id>',
    description: 'customer_id in the events sent',
    schema: text('a customer_id'),
    default: '0201001008132685',
  },
  timeout: {
    flag: '--timeout <ms>',
    description: 'per request',
    schema: integer(1, 600_000),
    default: '10000',
  },
  largeBody: {
    flag: '--large-body <bytes>',
    description: 'also send a body this large, expecting 413; 0 to skip',
    schema: integer(0, 1024 * 1024 * 1024),
    default: String(1024 * 1024),
  },
  statusUrl: {
    flag: '--status-url <template>',
    description:
      'where the order checks read the status the receiver holds (GET, JSON with "status"); {customer_id} and {client_customer_ref} are replaced',
    schema: statusUrlTemplate,
  },
  only: {
    flag: '--only <id>',
    description: 'run only this check (repeatable); ids are listed by --json',
    schema: text('a check id').transform((id) => [id]),
    repeatable: true,
  },
  json: jsonFlag('print the results as JSON instead of a table'),
} as const satisfies Arguments;

type ConformanceOptions = CommandValues<'conformance', typeof ARGUMENTS>;

/**
 * `tpcs conformance`: tests a receiver URL against the contract and prints a pass/fail table. Exit 0
 * when no check fails (warnings allowed), 1 otherwise, and 1 at once when nothing listens at the URL.
 */
export function registerConformance(program: Command): void {
  const command = program
    .command('conformance')
    .description(
      'test a receiver URL against the contract: 200 for valid events, 400 for invalid ones, 401 for bad signatures, the newest event held',
    );
  addOptions(command, 'conformance', ARGUMENTS)
    .addHelpText(
      'after',
      `
What passes: valid events (both statuses, a duplicate, a rotation) must get 200; every invalid
payload 400; a bad, missing or expired signature 401 or 403 (another 4xx is a warning; 400 fails,
since senders treat 400 as a permanent "invalid payload" and a secret mismatch would lose events);
a too-large body 413 (other refusals, and acceptance, are warnings). Warnings do not fail the run.
The receiver must use the given secret; the events use fresh ids and references on every run.

Order checks, each on a third party of its own: two events in the same second (REJECTED, then
APPROVED) must leave APPROVED held, as the later arrival wins a tie; an older REJECTED arriving after
a newer APPROVED must not replace it; an event_timestamp 1 hour ahead must get 400. Which status is
held is read from --status-url after the events (e.g. \`tpcs receive\` serves
/statuses/{customer_id}/{client_customer_ref}); without it, from the "outcome" of the 200 bodies
("recorded" or "stale", as the receiver kit answers); when neither is there, those two checks warn.

Examples:
  $ tpcs conformance --url http://127.0.0.1:3000/webhook --secret whsec_…
  $ tpcs conformance --url http://127.0.0.1:3000/webhook --secret whsec_… \\
      --status-url 'http://127.0.0.1:3000/statuses/{customer_id}/{client_customer_ref}'
  $ WEBHOOK_SECRET=whsec_… tpcs conformance --url https://partner.example/webhook --json > report.json
  $ tpcs conformance --url http://127.0.0.1:3000/webhook --secret whsec_… --only approved --only duplicate
${EXIT_CODES_HELP}`,
    )
    .action(commandAction('conformance', ARGUMENTS, conformance));
}

async function conformance(options: ConformanceOptions): Promise<void> {
  const known = selectChecks({ largeBodyBytes: options.largeBody }).map((c) => c.id);
  const unknown = (options.only ?? []).filter((id) => !known.includes(id));
  if (unknown.length > 0)
    throw new UsageError(`unknown check id(s): ${unknown.join(', ')}; known: ${known.join(', ')}`);

  // Nothing listening there: one line now, rather than every check failing the same way.
  const why = await unreachable(options.url, options.timeout);
  if (why !== undefined) throw new Error(`cannot reach the receiver at ${options.url}: ${why}`);

  const total = selectChecks({
    largeBodyBytes: options.largeBody,
    ...(options.only ? { only: options.only } : {}),
  }).length;
  const progress = startProgress('conformance', total);
  const results = await runConformance({
    url: options.url,
    secret: options.signingSecret,
    customerId: options.customerId,
    timeoutMs: options.timeout,
    largeBodyBytes: options.largeBody,
    ...(options.statusUrl ? { statusUrl: options.statusUrl } : {}),
    ...(options.only ? { only: options.only } : {}),
    onCheck: (check, index) => progress.tick(check.title, index),
  });
  progress.stop();
  const failed = results.filter((r) => r.verdict === 'fail').length;
  if (options.json) {
    console.log(
      JSON.stringify({
        url: options.url,
        ok: failed === 0,
        results: results.map((r) => ({
          id: r.check.id,
          title: r.check.title,
          group: r.check.group,
          expect: r.check.expect,
          status: r.status,
          verdict: r.verdict,
          note: r.note,
          ...(r.held === undefined ? {} : { held: r.held }),
          duration_ms: r.durationMs,
          response_excerpt: r.responseExcerpt,
        })),
      }),
    );
  } else {
    console.log(`Conformance of ${options.url}\n`);
    console.log(formatReport(results));
  }
  if (failed > 0) console.error(`tpcs conformance: ${failed} of ${results.length} checks failed`);
  process.exitCode = failed === 0 ? EXIT.ok : EXIT.failed;
}
