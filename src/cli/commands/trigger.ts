import type { Command } from 'commander';
import { z } from 'zod';
import { httpUrl, integer, oneOf, text } from '../../config/values.js';
import { postRaw } from '../../conformance/post.js';
import { buildEvent, ContractError, CUSTOMER_STATUSES, type Reason } from '../../contract/index.js';
import { signWebhook } from '../../signing/index.js';
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
import { cannotConnect } from '../reach.js';

/** The reason sent on a REJECTED event when none is given. */
const DEFAULT_REASON: Reason = {
  code: 'COMPLIANCE_CHECK_FAILED',
  reason: 'Compliance check failed due to validation or regulatory issues',
};

/** `CODE:text` → a reason (one, in a list: the flag is repeatable). */
const reason = z.string().transform((raw, ctx): Reason[] => {
  const at = raw.indexOf(':');
  if (at <= 0 || at === raw.length - 1) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected CODE:text, e.g. COMPLIANCE_CHECK_FAILED:"Sanctions list match"',
    });
    return z.NEVER;
  }
  return [{ code: raw.slice(0, at).trim(), reason: raw.slice(at + 1).trim() }];
});

/** What to send this time (the secret is a setting: `WEBHOOK_SECRET`). */
const ARGUMENTS = {
  url: { flag: '--url <url>', description: "the receiver's URL", schema: httpUrl, required: true },
  status: {
    flag: '--status <status>',
    description: 'the decision the event reports',
    schema: oneOf(CUSTOMER_STATUSES),
    default: 'APPROVED',
  },
  customerId: {
    flag: '--customer-id <id>',
    description: "the partner's customer_id",
    schema: text('a customer_id'),
    default: '0201001008132685',
  },
  ref: {
    flag: '--ref <client_customer_ref>',
    description: 'the third party',
    schema: text('a client_customer_ref'),
    default: 'CUST_001',
  },
  reason: {
    flag: '--reason <CODE:text>',
    description: `a rejection reason, repeatable (REJECTED only; default ${DEFAULT_REASON.code})`,
    schema: reason,
    repeatable: true,
  },
  eventId: {
    flag: '--event-id <id>',
    description: 'the event_id (default: a new UUID)',
    schema: text('an event id'),
  },
  timeout: {
    flag: '--timeout <ms>',
    description: 'how long to wait for the answer',
    schema: integer(1, 600_000),
    default: '10000',
  },
  json: jsonFlag('print one JSON object (event, request headers, response) instead of text'),
} as const satisfies Arguments;

type TriggerOptions = CommandValues<'trigger', typeof ARGUMENTS>;

/**
 * `tpcs trigger`: builds one event with the contract's builder, signs it the Standard Webhooks way,
 * POSTs those exact bytes to a URL and prints the answer. Exit 0 on a 2xx, 1 otherwise.
 */
export function registerTrigger(program: Command): void {
  const command = program
    .command('trigger')
    .description('send one signed sample event to a URL and print the response');
  addOptions(command, 'trigger', ARGUMENTS)
    .addHelpText(
      'after',
      `
Examples:
  $ tpcs trigger --url http://127.0.0.1:3000/webhook --secret whsec_…
  $ tpcs trigger --url http://127.0.0.1:3000/webhook --secret whsec_… --status REJECTED \\
      --reason COMPLIANCE_CHECK_FAILED:"Sanctions list match" --ref CUST_042
  $ WEBHOOK_SECRET=whsec_… tpcs trigger --url https://partner.example/webhook --json | jq .response.status
${EXIT_CODES_HELP}`,
    )
    .action(commandAction('trigger', ARGUMENTS, trigger));
}

async function trigger(options: TriggerOptions): Promise<void> {
  if (options.status === 'APPROVED' && options.reason !== undefined) {
    throw new UsageError('--reason is only for --status REJECTED (an APPROVED event never has reasons)');
  }
  const reasons = options.status === 'REJECTED' ? (options.reason ?? [DEFAULT_REASON]) : undefined;
  let built: ReturnType<typeof buildEvent>;
  try {
    built = buildEvent({
      ...(options.eventId === undefined ? {} : { eventId: options.eventId }),
      customerId: options.customerId,
      clientCustomerRef: options.ref,
      status: options.status,
      ...(reasons === undefined ? {} : { reasons }),
    });
  } catch (error) {
    if (error instanceof ContractError) {
      throw new UsageError(
        `these flags cannot make a valid event:\n${error.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
      );
    }
    throw error;
  }
  const { event, json } = built;
  const signed = signWebhook({
    id: event.event_id,
    timestamp: Math.floor(Date.now() / 1000),
    body: json,
    secrets: [options.signingSecret],
  });
  const headers = { ...signed, 'content-type': 'application/json' };
  const outcome = await postRaw(options.url, headers, json, options.timeout);
  const delivered = outcome.ok && outcome.status >= 200 && outcome.status < 300;

  if (options.json) {
    console.log(
      JSON.stringify({
        event,
        request: { url: options.url, headers, body: json },
        response: outcome.ok
          ? { status: outcome.status, body: outcome.body, duration_ms: outcome.durationMs }
          : null,
        error: outcome.ok ? null : outcome.error,
        delivered,
      }),
    );
  } else {
    console.log(`→ POST ${options.url}`);
    console.log(
      `  event ${event.event_id} ${event.data.status} ${event.data.customer_id}/${event.data.client_customer_ref}`,
    );
    if (outcome.ok) {
      console.log(`← ${outcome.status} in ${outcome.durationMs} ms`);
      if (outcome.body !== '') console.log(outcome.body);
    } else {
      console.log(`✗ no answer after ${outcome.durationMs} ms`);
    }
  }
  // Why it failed, as the one line on stderr every command gives for a failure (also with --json).
  if (outcome.ok && !delivered) {
    console.error(`tpcs trigger: the receiver answered ${outcome.status}, not 2xx: the event was not taken`);
  } else if (!outcome.ok) {
    console.error(
      cannotConnect(outcome.error)
        ? `tpcs trigger: cannot reach the receiver at ${options.url}: ${outcome.error}`
        : `tpcs trigger: no answer from ${options.url} after ${outcome.durationMs} ms: ${outcome.error}`,
    );
  }
  process.exitCode = delivered ? EXIT.ok : EXIT.failed;
}
