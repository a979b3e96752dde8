/**
 * PostgreSQL for tests, decided in one place: where it is, whether this run requires it, and whether
 * it answers.
 *
 * - Where: `TEST_DATABASE_URL`, default the machine's local server, database `test`.
 * - Required: when `TPCS_REQUIRE_POSTGRES=1` (`.ci/run` exports it), or `CI` is set (CI sets `CI=true`).
 *   `TPCS_REQUIRE_POSTGRES=0` lets a machine that has `CI` set skip the suites anyway, said out loud.
 * - Answers: probed once per run by the integration project's globalSetup (`global-setup.ts`). When
 *   required and unreachable the run fails before any test, with what to do. Otherwise the PostgreSQL
 *   suites skip, and the reason is printed once for the run (a laptop with only Node passes `npm test`).
 *
 * The one database harness, test/support/databases.ts, asks {@link postgresSkipReason} (once per test
 * file); nothing else probes on its own.
 */
import pg from 'pg';
import { inject } from 'vitest';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** What the globalSetup hands to the test files: the probe's verdict, so each file does not probe again. */
export interface PostgresVerdict {
  /** Why the PostgreSQL suites skip, or null when they run. */
  skip: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresVerdict;
  }
}

const enabled = (value: string | undefined): boolean =>
  value !== undefined && !['', '0', 'false', 'no'].includes(value.trim().toLowerCase());

/**
 * The setting that makes PostgreSQL required in this environment (`'TPCS_REQUIRE_POSTGRES=1'`,
 * `'CI=true'`), or undefined when its suites may skip.
 */
export function postgresRequiredBy(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.TPCS_REQUIRE_POSTGRES;
  if (explicit !== undefined && explicit.trim() !== '') {
    return enabled(explicit) ? `TPCS_REQUIRE_POSTGRES=${explicit}` : undefined;
  }
  return enabled(env.CI) ? `CI=${env.CI}` : undefined;
}

/** The URL without its password, for messages. */
export function redactedUrl(url: string = PG_URL): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(TEST_DATABASE_URL is not a URL)';
  }
}

function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map(describeError).join('; ');
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return err.message || (typeof code === 'string' ? code : err.name);
  }
  return String(err);
}

async function probeOnce(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {}); // a connection dropped after the probe is not the probe's failure
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return describeError(err);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Why PostgreSQL at `url` cannot be used (a sentence naming the URL and the error), or undefined when
 * it answers `SELECT 1`. With `patienceMs`, a server still starting up is given that long.
 */
export async function probePostgres(
  url: string = PG_URL,
  { patienceMs = 0 }: { patienceMs?: number } = {},
): Promise<string | undefined> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    const error = await probeOnce(url);
    if (error === undefined) return undefined;
    if (Date.now() >= deadline) return `PostgreSQL at ${redactedUrl(url)} is unreachable (${error})`;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Probes and applies the rule: throws, with what to do, when PostgreSQL is required and unreachable;
 * otherwise returns why its suites skip (undefined when they run). Prints nothing.
 */
export async function checkPostgres(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const requiredBy = postgresRequiredBy(env);
  // Where it is required, a server still starting gets a few seconds rather than failing the run.
  const unreachable = await probePostgres(PG_URL, { patienceMs: requiredBy ? 10_000 : 0 });
  if (unreachable === undefined) return undefined;
  if (requiredBy) {
    throw new Error(
      `${unreachable}, and this run requires it (${requiredBy}).\n` +
        'Start it (as .ci/run does: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start), ' +
        'point TEST_DATABASE_URL at a server, or set TPCS_REQUIRE_POSTGRES=0 to let its suites skip.',
    );
  }
  return (
    `${unreachable}: the PostgreSQL suites are skipped. Start a server or set TEST_DATABASE_URL to run ` +
    'them (CI, or TPCS_REQUIRE_POSTGRES=1, fails instead of skipping).'
  );
}

let local: Promise<string | undefined> | undefined;

/**
 * Why the PostgreSQL half of a suite is skipped, or undefined when it runs. Reads the globalSetup's
 * verdict; a file run without it (another config) probes once for its own process, by the same rule.
 */
export async function postgresSkipReason(): Promise<string | undefined> {
  const verdict = inject('postgres');
  if (verdict) return verdict.skip ?? undefined;
  local ??= checkPostgres().then((reason) => {
    if (reason) console.warn(reason);
    return reason;
  });
  return local;
}
