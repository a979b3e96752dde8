import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The `unit` project: in-process test files that each finish in well under a second (measured), with
 * no child process, no PostgreSQL, no browser and no workerd; loopback sockets and SQLite files in a
 * temp folder are allowed. `npx vitest run --project unit` takes seconds.
 *
 * Files are named one by one, so a new test file lands in `integration` until it is measured
 * (`npx vitest run --reporter=verbose FILE`) and listed here: `unit` stays fast. Pure but slow files
 * (test/contract/fuzz.test.ts, several seconds of property runs) stay in `integration` on time alone.
 */
const UNIT = [
  'test/contract/build.test.ts',
  'test/contract/fixtures.test.ts',
  'test/contract/invalid-corpus.test.ts',
  'test/contract/json-schema.test.ts',
  'test/contract/openapi.test.ts',
  'test/contract/openapi-lint.test.ts',
  'test/contract/rules.test.ts',
  'test/contract/timestamp.test.ts',
  'test/signing/interop.test.ts',
  'test/signing/properties.test.ts',
  'test/signing/secret.test.ts',
  'test/signing/sign.test.ts',
  'test/signing/verify.test.ts',
  'test/secrets/box.test.ts',
  'test/customers/rules.test.ts',
  'test/customers/event-id.test.ts',
  'test/config/readme-table.test.ts',
  'test/config/settings.test.ts',
  'test/errors/vocabulary.test.ts',
  'test/webhooks/url-policy.test.ts',
  'test/dispatcher/outcome.test.ts',
  'test/dispatcher/retry-policy.test.ts',
  'test/storage/decision-grouping.test.ts',
  'test/storage/event-stamps.test.ts',
  'test/storage/notify-payload.test.ts',
  'test/storage/claim-statements.test.ts',
  'test/dispatcher/sender.test.ts',
  'test/http/config.test.ts',
  'test/http/idempotency-pruner.test.ts',
  'test/cli/api-client.test.ts',
  'test/cli/progress-and-sse.test.ts',
  'test/receiver/core.test.ts',
  'test/receiver/fuzz.test.ts',
  'test/receiver/service.test.ts',
  'test/receiver/wal-sync.test.ts',
  'test/receiver/web-verifier.test.ts',
  'test/support/wait-for.test.ts',
];

export default defineConfig({
  test: {
    // shared by both projects (`extends: true`)
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        // One worker process for all unit files instead of a fork per file: measured 24-28 s -> 6-8 s
        // on 2 cores. Safe while these files leave no global state behind (restore spies in afterEach).
        test: { name: 'unit', include: UNIT, isolate: false, sequence: { groupOrder: 0 } },
      },
      {
        // everything else: PostgreSQL, child processes, browsers, long property runs
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...UNIT],
          // Most of these files wait on sockets, child processes and PostgreSQL rather than compute, so
          // three forks on 2 cores keep both busy: measured 176 s (vitest's default here, one fork) ->
          // 115 s for this project.
          maxWorkers: 3,
          // These files start processes, browsers and databases; on a loaded 2-core machine one test
          // of several CLI runs took 58 s (test/cli/service.test.ts). A hang still fails, later.
          testTimeout: 120_000,
          // after the unit project (vitest runs projects with different worker counts in groups)
          sequence: { groupOrder: 1 },
          // probes PostgreSQL once: fails the run where it is required, else prints why its suites skip
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
