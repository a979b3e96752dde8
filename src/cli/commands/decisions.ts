/**
 * `tpcs decisions`: the operator's compliance system records decisions in bulk. It reads them as JSON
 * Lines (a file or stdin), checks that every line is JSON before anything is sent, then sends them in
 * order, one `POST /api/v1/admin/decisions` after another (two decisions on one third party are
 * applied in file order), and reports each refused decision by its line number.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { components } from '../../client/index.js';
import { integer, text } from '../../config/values.js';
import { BATCH_BODY_LIMIT, MAX_BATCH_DECISIONS } from '../../http/routes/decisions.js';
import { createApiClient, describeApiError } from '../api-client.js';
import {
  type Arguments,
  addOptions,
  commandAction,
  EXIT,
  EXIT_CODES_HELP,
  jsonFlag,
  UsageError,
} from '../options.js';
import { startProgress } from '../progress.js';

type BatchDecision = components['schemas']['BatchComplianceDecision'];
type BatchResult = components['schemas']['BatchComplianceDecisionResult'];

const ARGUMENTS = {
  file: {
    flag: '-f, --file <path>',
    description: 'the decisions as JSON Lines, one decision object a line; - reads stdin',
    schema: text('a file path, or - for stdin'),
    defaultLabel: 'stdin, when it is not a terminal',
  },
  batchSize: {
    flag: '--batch-size <n>',
    description: 'decisions per request; the requests go one after another, in file order',
    schema: integer(1, MAX_BATCH_DECISIONS),
    default: String(MAX_BATCH_DECISIONS),
  },
  json: jsonFlag('print one JSON line per decision on stdout, with its input line number, for scripts'),
} as const satisfies Arguments;

/** How long one batch request may take: up to 1,000 decisions, written in one transaction. */
const REQUEST_TIMEOUT_MS = 120_000;
/** At most this many unreadable lines are listed; a file of another format would list them all. */
const MAX_LISTED_PROBLEMS = 10;

const INPUT_HELP = `
Input: JSON Lines (UTF-8), one decision a line, as POST /api/v1/admin/decisions takes them:
  {"customer_id":"0201001008132685","client_customer_ref":"CUST_001","status":"APPROVED"}
  {"customer_id":"0201001008132685","client_customer_ref":"CUST_002","status":"REJECTED",
   "reasons":[{"code":"COMPLIANCE_CHECK_FAILED","reason":"Sanctions list match"}]}   (on one line)
Blank lines are skipped. Every line is read before anything is sent: a line that is not a JSON
object is a usage error (exit 2) naming its line number, and nothing is recorded. A JSON array
becomes JSON Lines with: jq -c '.[]' decisions.json > decisions.jsonl

The decisions are sent in file order, --batch-size at a time, each request after the previous one
is answered, so decisions on one third party are applied (and their events emitted) in file order.
The service checks each decision on its own: an invalid one (400), one on an unknown third party
(404) or one too far ahead of the clock (429) is refused, and the others are still recorded.

Output: one summary line on stdout, and one line per refused decision on stderr:
  Recorded 2,490 of 2,500 decisions: 2,400 changed, 90 unchanged, 10 refused
  line 7: 404 not_found: No third party customer CUST_404 for customer 0201001008132685
With --json, one JSON object per decision on stdout instead, in file order: {"line": 7, "status":
404, "error": {…}}, or {"line": 1, "status": 200, "third_party": {…}, "event": {…} or null (the
status did not change)}; an invalid decision's problem paths are its own ($.reasons).
Exit 0 when every decision was recorded, 1 when any was refused or a request failed (the run stops
there, and says how many decisions were recorded before it), 2 for a usage error.`;

/** One decision read from the input, with where it was. */
interface InputDecision {
  line: number;
  value: BatchDecision;
  /** Its size in a request body, in bytes. */
  bytes: number;
}

/** `tpcs decisions`. */
export function registerDecisions(program: Command): void {
  const command = program
    .command('decisions')
    .description('operator: record compliance decisions in bulk, from JSON Lines (admin API)');
  addOptions(command, 'decisions', ARGUMENTS)
    .addHelpText(
      'after',
      `${INPUT_HELP}

Examples:
  $ export ADMIN_TOKEN=tpcs_adm_… TPCS_API=https://tpcs.example
  $ tpcs decisions --file decisions.jsonl
  $ tpcs decisions --json < decisions.jsonl > results.jsonl
  $ tpcs decisions --file - --batch-size 200 --api http://127.0.0.1:8080 --admin-token tpcs_adm_…
${EXIT_CODES_HELP}`,
    )
    .action(
      commandAction('decisions', ARGUMENTS, async (options) => {
        const source = options.file === undefined || options.file === '-' ? 'stdin' : options.file;
        const decisions = parseDecisions(await readInput(options.file), source);
        if (decisions.length === 0) {
          if (!options.json) console.log(`No decisions in ${source}: nothing sent.`);
          process.exitCode = EXIT.ok;
          return;
        }
        const api = createApiClient(options.api, options.adminToken, REQUEST_TIMEOUT_MS);
        const chunks = chunksOf(decisions, options.batchSize);
        const counts = { changed: 0, unchanged: 0, refused: 0 };
        // On a terminal only (stderr): a long file shows how far it got.
        const progress = startProgress('decisions', decisions.length);
        let sent = 0;
        for (const [n, chunk] of chunks.entries()) {
          const first = chunk[0]?.line as number;
          const last = chunk.at(-1)?.line as number;
          const request = `request ${n + 1} of ${chunks.length} (lines ${first}–${last})`;
          let problem: string | undefined;
          let answered = true;
          let results: BatchResult[] = [];
          try {
            const answer = await api.call((client) =>
              client.POST('/api/v1/admin/decisions', { body: { decisions: chunk.map((d) => d.value) } }),
            );
            if (!answer.ok) {
              problem = describeApiError(answer);
              // A gateway's 502 or 504: the service may have recorded the batch before it gave up.
              answered = answer.status !== 502 && answer.status !== 504;
            } else if (!Array.isArray(answer.body.results) || answer.body.results.length !== chunk.length) {
              problem = `error: the answer from ${api.base} is not one result per decision (${chunk.length} sent)`;
            } else results = answer.body.results;
          } catch (error) {
            answered = false;
            problem = error instanceof Error ? error.message : String(error);
          }
          if (problem !== undefined) {
            progress.stop();
            const recorded = counts.changed + counts.unchanged;
            const before =
              sent === 0
                ? 'nothing was recorded before it'
                : `${plural(recorded, 'decision')} ${recorded === 1 ? 'was' : 'were'} recorded before it (lines 1–${first - 1}: ${summary(counts)})`;
            const rest = answered
              ? `none from line ${first} on was recorded.`
              : `lines ${first}–${last} may or may not have been recorded (no answer from the service came), and none after line ${last} was sent.`;
            console.error(`tpcs decisions: ${problem}\nStopped at ${request}: ${before}; ${rest}`);
            process.exitCode = EXIT.failed;
            return;
          }
          const refusedLines: string[] = [];
          for (const [i, result] of results.entries()) {
            const line = (chunk[i] as InputDecision).line;
            if (result.status === 200) {
              if (result.event === null) counts.unchanged++;
              else counts.changed++;
            } else {
              counts.refused++;
              refusedLines.push(refusedLine(line, result));
            }
            if (options.json) console.log(JSON.stringify(jsonLine(line, result)));
          }
          sent += chunk.length;
          if (!options.json && refusedLines.length > 0) {
            progress.stop();
            console.error(refusedLines.join('\n'));
          }
          progress.tick(`line ${last}`, sent);
        }
        progress.stop();
        if (!options.json) {
          const recorded = counts.changed + counts.unchanged;
          const what =
            counts.refused === 0
              ? plural(recorded, 'decision')
              : `${recorded.toLocaleString('en-US')} of ${plural(sent, 'decision')}`;
          console.log(`Recorded ${what}: ${summary(counts)}`);
        }
        process.exitCode = counts.refused === 0 ? EXIT.ok : EXIT.failed;
      }),
    );
}

/** The input's text: the file, or stdin (`-`, or no --file with stdin not a terminal). */
async function readInput(file: string | undefined): Promise<string> {
  if (file !== undefined && file !== '-') {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`--file: ${(error as Error).message}`);
    }
  }
  if (file === undefined && process.stdin.isTTY) {
    throw new UsageError('give --file <path>, or pipe JSON Lines on stdin (tpcs decisions --help)');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The decisions of a JSON Lines text, each with its line number; blank lines are skipped. A line that
 * is not a JSON object is a usage error listing every such line (the first ten), so nothing is sent.
 * What the service checks (the fields, the status, the reasons) is left to it: it answers each.
 */
function parseDecisions(input: string, source: string): InputDecision[] {
  const decisions: InputDecision[] = [];
  const problems: string[] = [];
  const lines = input.replace(/^\uFEFF/, '').split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      problems.push(`line ${i + 1} is not JSON: ${(error as Error).message}`);
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const what = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
      problems.push(`line ${i + 1} is ${what}, not a decision object {…}`);
      continue;
    }
    decisions.push({
      line: i + 1,
      value: value as BatchDecision,
      bytes: Buffer.byteLength(JSON.stringify(value)),
    });
  }
  if (problems.length === 0) return decisions;
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS);
  if (problems.length > listed.length) listed.push(`… and ${problems.length - listed.length} more`);
  if (looksLikeOneDocument(input)) {
    listed.push(
      `${source} looks like one JSON document, not JSON Lines: convert an array with jq -c '.[]' (tpcs decisions --help)`,
    );
  }
  throw new UsageError(
    `${source}: expected JSON Lines, one decision a line; nothing was sent:\n  ${listed.join('\n  ')}`,
  );
}

/** Whether the whole input is one (multi-line) JSON document, such as a pretty-printed array. */
function looksLikeOneDocument(input: string): boolean {
  try {
    JSON.parse(input.replace(/^\uFEFF/, ''));
    return true;
  } catch {
    return false;
  }
}

/**
 * The requests: `size` decisions each at most, in order, and each body within the service's limit
 * (a decision larger than the limit on its own goes alone, and the service refuses it with 413).
 */
function chunksOf(decisions: InputDecision[], size: number): InputDecision[][] {
  const envelope = Buffer.byteLength('{"decisions":[]}');
  const chunks: InputDecision[][] = [];
  let chunk: InputDecision[] = [];
  let bytes = envelope;
  for (const decision of decisions) {
    const added = decision.bytes + (chunk.length === 0 ? 0 : 1);
    if (chunk.length > 0 && (chunk.length >= size || bytes + added > BATCH_BODY_LIMIT)) {
      chunks.push(chunk);
      chunk = [];
      bytes = envelope;
    }
    chunk.push(decision);
    bytes += decision.bytes + (chunk.length === 1 ? 0 : 1);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** `2,400 changed, 90 unchanged, 10 refused` (refused only when there are). */
function summary(counts: { changed: number; unchanged: number; refused: number }): string {
  const n = (count: number) => count.toLocaleString('en-US');
  const parts = [`${n(counts.changed)} changed`, `${n(counts.unchanged)} unchanged`];
  if (counts.refused > 0) parts.push(`${n(counts.refused)} refused`);
  return parts.join(', ');
}

function plural(count: number, word: string): string {
  return `${count.toLocaleString('en-US')} ${word}${count === 1 ? '' : 's'}`;
}

type Refused = Extract<BatchResult, { error: unknown }>;

/**
 * A refused decision's problems with paths of its own (`$.reasons`), not of the request it went in
 * (`$.decisions[3].reasons`), which the input knows nothing of.
 */
function ownProblems(result: Refused): { path: string; message: string }[] | undefined {
  const problems = result.error.details?.problems;
  if (!Array.isArray(problems)) return undefined;
  return problems
    .filter(
      (p): p is { path: string; message: string } =>
        typeof p?.path === 'string' && typeof p?.message === 'string',
    )
    .map((p) => ({ path: p.path.replace(/^\$\.decisions\[\d+\]/, '$'), message: p.message }));
}

/** `line 7: 404 not_found: No third party customer …`; an invalid decision lists its problems. */
function refusedLine(line: number, result: Refused): string {
  const problems = ownProblems(result);
  const said =
    problems !== undefined && problems.length > 0
      ? problems.map((p) => `${p.path}: ${p.message}`).join('; ')
      : result.error.message;
  return `line ${line}: ${result.status} ${result.error.code}: ${said.replace(/\s*\n\s*/g, ' ')}`;
}

/** The `--json` line of a result: its input line first, the service's result without its index in the request. */
function jsonLine(line: number, result: BatchResult): Record<string, unknown> {
  const { index: _index, ...rest } = result;
  if (!('error' in rest)) return { line, ...rest };
  const problems = ownProblems(result as Refused);
  if (problems === undefined) return { line, ...rest };
  return {
    line,
    ...rest,
    error: {
      ...rest.error,
      message: `The decision on line ${line} is invalid`,
      details: { ...rest.error.details, problems },
    },
  };
}
