import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { pointInTime, text } from '../../config/values.js';
import { type Problem, parseEvent } from '../../contract/index.js';
import { createVerifier, type VerifyResult } from '../../signing/index.js';
import { type CapturedRequest, parseHeadersFile, parseRawRequest } from '../capture.js';
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

/** The capture to check (the secrets are a setting: `WEBHOOK_SECRET`). */
const ARGUMENTS = {
  headers: {
    flag: '--headers <file>',
    description: 'the headers: "Name: value" lines or a JSON object',
    schema: text('a file'),
  },
  body: { flag: '--body <file>', description: 'the raw body, byte for byte', schema: text('a file') },
  now: {
    flag: '--now <time>',
    description:
      'check the timestamp as of this time, for old captures: ISO 8601, unix seconds, or how long ago (90m, 2h, 3d)',
    schema: pointInTime,
  },
  json: jsonFlag('print one JSON object instead of text'),
} as const satisfies Arguments;

type VerifyOptions = CommandValues<'verify', typeof ARGUMENTS>;

/**
 * `tpcs verify`: checks one captured request: is the signature valid for the secret, and does the
 * payload conform to the contract? Each problem is printed with its JSON path. Exit 0 only when both
 * hold.
 */
export function registerVerify(program: Command): void {
  const command = program
    .command('verify')
    .description('check a captured webhook request: signature and payload, and why not');
  addOptions(command, 'verify', ARGUMENTS)
    .addHelpText(
      'after',
      `
Without --headers/--body, a raw HTTP request is read from stdin (request line, headers, a blank
line, the body; CRLF or LF).

Examples:
  $ tpcs verify --secret whsec_… --headers headers.txt --body body.json
  $ tpcs verify --secret whsec_… < request.txt
  $ tpcs verify --secret whsec_… --now 2025-01-31T10:00:05Z < old-request.txt
  $ WEBHOOK_SECRET=whsec_… tpcs verify --now 2h --json < request-captured-2h-ago.txt
${EXIT_CODES_HELP}`,
    )
    .action(commandAction('verify', ARGUMENTS, verify));
}

async function verify(options: VerifyOptions): Promise<void> {
  const captured = await readCapture(options);
  const signature: VerifyResult = createVerifier(options.webhookSecrets, {
    ...(options.now === undefined ? {} : { now: Math.floor(options.now.getTime() / 1000) }),
  })(captured.headers, captured.body);
  const payload = parseEvent(captured.body);
  const ok = signature.ok && payload.ok;

  if (options.json) {
    console.log(
      JSON.stringify({
        ok,
        signature: signature.ok
          ? { valid: true, webhook_id: signature.id, timestamp: signature.timestamp }
          : { valid: false, code: signature.code, message: signature.message },
        payload: payload.ok
          ? { conforms: true, event: payload.event }
          : { conforms: false, problems: payload.problems },
      }),
    );
  } else {
    console.log(describeSignature(signature, options.now !== undefined));
    console.log(
      payload.ok ? `payload:   conforms (${summary(payload.event)})` : describeProblems(payload.problems),
    );
  }
  if (!ok) {
    const wrong = [
      ...(signature.ok ? [] : [`the signature is invalid (${signature.code})`]),
      ...(payload.ok ? [] : ['the payload does not conform to the contract']),
    ];
    console.error(`tpcs verify: ${wrong.join(', and ')}`);
  }
  process.exitCode = ok ? EXIT.ok : EXIT.failed;
}

async function readCapture(options: VerifyOptions): Promise<CapturedRequest> {
  if ((options.headers === undefined) !== (options.body === undefined)) {
    throw new UsageError('give both --headers and --body, or neither (and the raw request on stdin)');
  }
  if (options.headers !== undefined && options.body !== undefined) {
    let headersText: string;
    let body: Buffer;
    try {
      headersText = readFileSync(options.headers, 'utf8');
      body = readFileSync(options.body);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    try {
      return { ...parseHeadersFile(headersText), body };
    } catch (error) {
      throw new UsageError(`--headers ${options.headers}: ${(error as Error).message}`);
    }
  }
  if (process.stdin.isTTY) {
    throw new UsageError(
      'give --headers and --body, or pipe a raw HTTP request on stdin (tpcs verify --help)',
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  try {
    return parseRawRequest(Buffer.concat(chunks));
  } catch (error) {
    throw new UsageError(`stdin is not a raw HTTP request: ${(error as Error).message}`);
  }
}

function describeSignature(result: VerifyResult, nowGiven: boolean): string {
  if (result.ok) {
    const at = new Date(result.timestamp * 1000).toISOString().replace('.000Z', 'Z');
    return `signature: valid (webhook-id ${result.id}, signed at ${at})`;
  }
  const hint =
    result.code === 'timestamp_too_old' && !nowGiven
      ? ' (for an old capture, pass --now with the time it was sent)'
      : '';
  return `signature: INVALID (${result.code}) ${result.message}${hint}`;
}

function summary(event: {
  event_type: string;
  version: string;
  data: { customer_id: string; client_customer_ref: string; status: string };
}): string {
  const { data } = event;
  return `${event.event_type} ${event.version}, ${data.customer_id}/${data.client_customer_ref} ${data.status}`;
}

function describeProblems(problems: Problem[]): string {
  return [`payload:   does NOT conform (${problems.length} problem${problems.length === 1 ? '' : 's'})`]
    .concat(problems.map((p) => `  ${p.path}: ${p.message}`))
    .join('\n');
}
