import type { Command } from 'commander';
import { z } from 'zod';
import { boolean, httpUrl, oneOf, text } from '../../config/values.js';
import { EVENT_TYPE } from '../../contract/index.js';
import { MAX_RATE_LIMIT } from '../../webhooks/schema.js';
import { type ApiResult, createApiClient, describeApiError } from '../api-client.js';
import {
  type Arguments,
  addOptions,
  commandAction,
  EXAMPLE_WEBHOOK_ID,
  EXIT,
  EXIT_CODES_HELP,
  jsonFlag,
  UsageError,
  WEBHOOK_ARGUMENT,
} from '../options.js';
import { report } from './replay.js';

/** `-q, --quiet`: print only the one value a script wants (a secret), nothing else on stdout. */
const QUIET = {
  flag: '-q, --quiet',
  description: 'print only the signing secret, for scripts: SECRET=$(tpcs endpoints create … -q)',
  schema: boolean,
} as const;

/** `--rate-limit`: deliveries per second, or `none` (null: no limit). */
const rateLimitValue = z.string().transform((raw, ctx): number | null => {
  const value = raw.trim().toLowerCase();
  if (value === 'none') return null;
  const n = /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (n >= 1 && n <= MAX_RATE_LIMIT) return n;
  ctx.addIssue({
    code: 'custom',
    message: `expected a whole number of deliveries per second from 1 to ${MAX_RATE_LIMIT}, or none`,
  });
  return z.NEVER;
});

const RATE_LIMIT = {
  flag: '--rate-limit <per-second>',
  description: `most deliveries per second to the endpoint, from every worker together (1 to ${MAX_RATE_LIMIT}); none: no limit`,
  schema: rateLimitValue,
} as const;

const CREATE_ARGUMENTS = {
  url: { flag: '--url <url>', description: 'where to send the events', schema: httpUrl, required: true },
  eventType: {
    flag: '--event-type <type>',
    description: 'an event type to subscribe to (repeat for several)',
    // a list, so that repeated flags join and the default is one too
    schema: text('an event type').transform((type) => [type]),
    repeatable: true,
    default: EVENT_TYPE,
  },
  description: {
    flag: '--description <text>',
    description: 'a note for people',
    schema: text('a description'),
  },
  ifExists: {
    flag: '--if-exists <action>',
    description:
      'when this partner already has an endpoint with this URL: fail (exit 1), or rotate-secret (print a new secret for it)',
    schema: oneOf(['fail', 'rotate-secret']),
    default: 'fail',
  },
  rateLimit: RATE_LIMIT,
  quiet: QUIET,
  json: jsonFlag("print the service's answer as JSON"),
} as const satisfies Arguments;

const UPDATE_ARGUMENTS = {
  webhook: WEBHOOK_ARGUMENT,
  url: { flag: '--url <url>', description: 'a new URL to send the events to', schema: httpUrl },
  description: {
    flag: '--description <text>',
    description: 'a new note for people',
    schema: text('a description'),
  },
  rateLimit: RATE_LIMIT,
  json: jsonFlag("print the service's answer as JSON"),
} as const satisfies Arguments;

const ROTATE_ARGUMENTS = {
  webhook: WEBHOOK_ARGUMENT,
  quiet: QUIET,
  json: jsonFlag("print the service's answer as JSON"),
} as const satisfies Arguments;

const LIST_ARGUMENTS = { json: jsonFlag("print the service's answer as JSON") } as const satisfies Arguments;

const PARTNER_ENV = `  $ export TPCS_API=http://localhost:8080 TPCS_TOKEN=tpcs_pk_… TPCS_CUSTOMER_ID=0201001008132685`;

/**
 * `tpcs endpoints`: a partner's webhook endpoints (`…/customers/{id}/webhooks`): list them, subscribe
 * one (its signing secret printed once), rotate a secret. `create --if-exists rotate-secret` makes a
 * setup script safe to run twice: the second run gets a fresh secret for the endpoint it made before.
 */
export function registerEndpoints(program: Command): void {
  const endpoints = program
    .command('endpoints')
    .description("partner: list, create, update and rotate the secrets of the partner's webhook endpoints");

  const list = endpoints.command('list').description("list the partner's webhook endpoints");
  addOptions(list, 'endpoints list', LIST_ARGUMENTS)
    .addHelpText('after', `\nExamples:\n${PARTNER_ENV}\n  $ tpcs endpoints list\n${EXIT_CODES_HELP}`)
    .action(
      commandAction('endpoints list', LIST_ARGUMENTS, async (options) => {
        const api = createApiClient(options.api, options.token);
        const answer = await api.call((client) =>
          client.GET('/api/v1/customers/{customer_id}/webhooks', {
            params: { path: { customer_id: options.customerId }, query: { limit: 100 } },
          }),
        );
        report(answer, options.json, ({ webhooks }) =>
          webhooks.length === 0
            ? 'No webhook endpoints yet (tpcs endpoints create --url …)'
            : webhooks
                .map(
                  (w) =>
                    `${w.id}  ${w.enabled ? 'enabled ' : 'disabled'}  ${w.url}${w.rate_limit === null ? '' : `  (at most ${w.rate_limit}/s)`}${w.disabled_reason ? `  (${w.disabled_reason})` : ''}`,
                )
                .join('\n'),
        );
      }),
    );

  const create = endpoints
    .command('create')
    .description('subscribe a webhook endpoint and print its signing secret (shown only now)');
  addOptions(create, 'endpoints create', CREATE_ARGUMENTS)
    .addHelpText(
      'after',
      `
Examples:
${PARTNER_ENV}
  $ tpcs endpoints create --url https://partner.example/webhooks/tpcs
  $ tpcs endpoints create --url https://partner.example/webhooks/tpcs --rate-limit 50
  $ SECRET=$(tpcs endpoints create --url http://127.0.0.1:4000/webhook --if-exists rotate-secret -q)
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('endpoints create', CREATE_ARGUMENTS, async (options) => {
        const api = createApiClient(options.api, options.token);
        const customerId = options.customerId;
        const created = await api.call((client) =>
          client.POST('/api/v1/customers/{customer_id}/webhooks', {
            params: { path: { customer_id: customerId } },
            body: {
              url: options.url,
              event_types: options.eventType,
              ...(options.description === undefined ? {} : { description: options.description }),
              ...(options.rateLimit === undefined ? {} : { rate_limit: options.rateLimit }),
            },
          }),
        );
        const existing = existingEndpoint(created);
        if (existing === undefined || options.ifExists === 'fail') {
          show(created, options, (e) => `Created endpoint ${e.id} for ${e.url}.`);
          return;
        }
        // Said on stderr, so that `SECRET=$(…)` still captures only the secret.
        console.error(
          `Endpoint ${existing} already has the URL ${options.url}: rotating its signing secret instead.`,
        );
        show(
          await rotate(api, customerId, existing),
          options,
          (e) => `Rotated the secret of endpoint ${e.id}.`,
        );
      }),
    );

  const update = endpoints
    .command('update')
    .description("change an endpoint's URL, description or rate limit");
  addOptions(update, 'endpoints update', UPDATE_ARGUMENTS)
    .addHelpText(
      'after',
      `
Examples:
${PARTNER_ENV}
  $ tpcs endpoints update --webhook ${EXAMPLE_WEBHOOK_ID} --rate-limit 20
  $ tpcs endpoints update --webhook ${EXAMPLE_WEBHOOK_ID} --rate-limit none
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('endpoints update', UPDATE_ARGUMENTS, async (options) => {
        const body = {
          ...(options.url === undefined ? {} : { url: options.url }),
          ...(options.description === undefined ? {} : { description: options.description }),
          ...(options.rateLimit === undefined ? {} : { rate_limit: options.rateLimit }),
        };
        if (Object.keys(body).length === 0) {
          throw new UsageError('nothing to change: give --url, --description or --rate-limit');
        }
        const api = createApiClient(options.api, options.token);
        const answer = await api.call((client) =>
          client.PATCH('/api/v1/customers/{customer_id}/webhooks/{webhook_id}', {
            params: { path: { customer_id: options.customerId, webhook_id: options.webhook } },
            body,
          }),
        );
        report(answer, options.json, (e) =>
          [
            `Updated endpoint ${e.id}: ${e.url}`,
            e.rate_limit === null ? 'No rate limit.' : `At most ${e.rate_limit} deliveries per second.`,
          ].join('\n'),
        );
      }),
    );

  const rotateSecret = endpoints
    .command('rotate-secret')
    .description('give an endpoint a new signing secret; the previous one keeps signing for 24 hours');
  addOptions(rotateSecret, 'endpoints rotate-secret', ROTATE_ARGUMENTS)
    .addHelpText(
      'after',
      `\nExamples:\n${PARTNER_ENV}\n  $ tpcs endpoints rotate-secret --webhook ${EXAMPLE_WEBHOOK_ID}\n${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('endpoints rotate-secret', ROTATE_ARGUMENTS, async (options) => {
        const api = createApiClient(options.api, options.token);
        show(
          await rotate(api, options.customerId, options.webhook),
          options,
          (e) => `Rotated the secret of endpoint ${e.id}.`,
        );
      }),
    );
}

type Api = ReturnType<typeof createApiClient>;

function rotate(api: Api, customerId: string, webhookId: string) {
  return api.call((client) =>
    client.POST('/api/v1/customers/{customer_id}/webhooks/{webhook_id}/rotate-secret', {
      params: { path: { customer_id: customerId, webhook_id: webhookId } },
    }),
  );
}

/** The id of the endpoint that already has the URL, when that is why the service refused. */
function existingEndpoint(answer: ApiResult<unknown>): string | undefined {
  if (answer.ok || answer.status !== 409) return undefined;
  const error = (answer.body as { error?: { code?: unknown; details?: { endpoint_id?: unknown } } } | null)
    ?.error;
  const id = error?.details?.endpoint_id;
  return error?.code === 'endpoint_exists' && typeof id === 'string' ? id : undefined;
}

interface Shown {
  id: string;
  url: string;
  secret: string;
  previous_secret_expires_at?: string | undefined;
}

/** The endpoint and its secret: the secret alone with `--quiet`, the answer with `--json`. */
function show(
  answer: ApiResult<Shown>,
  options: { quiet?: boolean | undefined; json?: boolean | undefined },
  headline: (e: Shown) => string,
): void {
  if (options.quiet && !options.json) {
    if (answer.ok) console.log(answer.body.secret);
    else console.error(describeApiError(answer));
    process.exitCode = answer.ok ? EXIT.ok : EXIT.failed;
    return;
  }
  report(answer, options.json, (e) =>
    [
      headline(e),
      `Signing secret (shown only now, store it): ${e.secret}`,
      ...(e.previous_secret_expires_at
        ? [`The previous secret keeps signing until ${e.previous_secret_expires_at}.`]
        : []),
    ].join('\n'),
  );
}
