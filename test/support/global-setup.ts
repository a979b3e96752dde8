/**
 * The integration project's globalSetup: decides once per run whether PostgreSQL is there. Required
 * and unreachable fails the run here, before any test; not required and unreachable prints the one
 * reason its suites skip. The verdict goes to the test files through `provide`/`inject`.
 */
import type { TestProject } from 'vitest/node';
import { checkPostgres } from './postgres.js';

export default async function setup(project: TestProject): Promise<void> {
  const skip = await checkPostgres();
  if (skip) console.warn(`\n${skip}\n`);
  project.provide('postgres', { skip: skip ?? null });
}
