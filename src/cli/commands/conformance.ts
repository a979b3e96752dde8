import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import {
  formatReport,
  runConformance,
  STATUS_URL_FIELDS,
  selectChecks,
  statusUrlFor,
} from '../../conformance/index.js';
import {
  EXIT,
  EXIT_CODES_HELP,
  httpUrl,
  integer,
  runAction,
  secret,
  setting,
  UsageError,
} from '../options.js';
import { startProgress } from '../progress.js';

interface ConformanceOptions {
  url: string;
  secret: string;
  customerId: string;
  timeout: number;
  largeBody: number;
  statusUrl?: string;
  only?: string[];
  json?: boolean;
}

/**
 * `tpcs conformance`: tests a receiver URL against the contract and prints a pass/fail table. Exit 0
 * when no check fails (warnings allowed), 1 otherwise.
 */
export function registerConformance(program: Command): void {
  program
    .command('conformance')
    .description(
      'test a receiver URL against the contract: 200 for valid events, 400 for invalid ones, 401 for bad signatures, the newest event held',
    )
    .addOption(
      setting({ flags: '--url <url>', description: "the receiver's URL", parse: httpUrl, required: true }),
    )
    .addOption(
      setting({
        flags: '--secret <whsec>',
        description: "the receiver's signing secret",
        env: 'WEBHOOK_SECRET',
        parse: secret,
        required: true,
      }),
    )
    .addOption(
      setting({
        flags: '--customer-id <id>',
        description: 'customer_id in the events sent',
        default: '0201001008132685',
      }),
    )
    .addOption(
      setting({ flags: '--timeout <ms>', description: 'per request', default: 10_000, parse: integer(1) }),
    )
    .addOption(
      setting({
        flags: '--large-body <bytes>',
        description: 'also send a body this large, expecting 413; 0 to skip',
        default: 1024 * 1024,
        parse: integer(0),
      }),
    )
    .addOption(
      setting({
        flags: '--status-url <template>',
        description:
          'where the order checks read the status the receiver holds (GET, JSON with "status"); {customer_id} and {client_customer_ref} are replaced',
        parse: statusUrlTemplate,
      }),
    )
    .addOption(
      new Option('--only <id>', 'run only this check (repeatable); ids are listed by --json').argParser(
        (raw: string, previous: string[] | undefined) => [...(previous ?? []), raw],
      ),
    )
    .option('--json', 'print the results as JSON instead of a table')
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
  $ tpcs conformance --url https://partner.example/webhook --json > report.json
${EXIT_CODES_HELP}`,
    )
    .action(runAction('conformance', conformance));
}

async function conformance(options: ConformanceOptions): Promise<void> {
  const known = selectChecks({ largeBodyBytes: options.largeBody }).map((c) => c.id);
  const unknown = (options.only ?? []).filter((id) => !known.includes(id));
  if (unknown.length > 0)
    throw new UsageError(`unknown check id(s): ${unknown.join(', ')}; known: ${known.join(', ')}`);

  const total = selectChecks({
    largeBodyBytes: options.largeBody,
    ...(options.only ? { only: options.only } : {}),
  }).length;
  const progress = startProgress('conformance', total);
  const results = await runConformance({
    url: options.url,
    secret: options.secret,
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
  process.exitCode = failed === 0 ? EXIT.ok : EXIT.failed;
}

/** A status URL template: an http(s) URL once both fields are filled in, and naming both. */
function statusUrlTemplate(raw: string): string {
  const template = raw.trim();
  const missing = STATUS_URL_FIELDS.filter((field) => !template.includes(field));
  if (missing.length > 0) {
    throw new InvalidArgumentError(
      `expected a URL with ${missing.join(' and ')} in it, e.g. http://127.0.0.1:3000/statuses/{customer_id}/{client_customer_ref}.`,
    );
  }
  httpUrl(statusUrlFor(template, { customerId: 'c', clientCustomerRef: 'r' }));
  return template;
}
