/**
 * Migration 026 builds two claim statements from one set of pieces: its full statement must stay
 * 024's, word for word (every behaviour the claim tests pin down on the full path), and its lean one
 * must leave out what it exists to leave out (the rate-limit branches and the slow path).
 */
import { describe, expect, it } from 'vitest';
import { sql as claimReports } from '../../src/storage/postgres/migrations/024_claim_reports.js';
import { sql as claimFastPath } from '../../src/storage/postgres/migrations/026_claim_fast_path.js';

/** The statements after each `RETURN QUERY` in a tpcs_claim definition, in order. */
function returnedQueries(sql: string): string[] {
  const marker = '  RETURN QUERY\n';
  const parts = sql.split(marker).slice(1);
  if (parts.length === 0) throw new Error('no RETURN QUERY in the function');
  // each statement ends where the function's next line of PL/pgSQL begins: the lean one's `IF FOUND`,
  // the full one's `END`
  return parts.map((p) => p.slice(0, p.search(/\n(?: {4}IF FOUND|END)/) + 1));
}

describe('tpcs_claim statements (migration 026)', () => {
  it('keeps 024’s statement as the full path, word for word', () => {
    const [full] = returnedQueries(claimFastPath).slice(-1);
    expect(returnedQueries(claimReports)).toHaveLength(1);
    expect(full).toBe(returnedQueries(claimReports)[0]);
  });

  it('leaves the rate-limit branches and the slow path out of the lean statement', () => {
    const statements = returnedQueries(claimFastPath);
    expect(statements).toHaveLength(2);
    const [lean = '', full = ''] = statements;
    for (const cte of [
      'lease',
      'pr',
      'held',
      'ep',
      'scan',
      'fast',
      'slow',
      'due',
      'chosen',
      'picked',
      'leased',
    ])
      expect(lean).toContain(`  ${cte} AS (`);
    for (const cte of ['limited_due', 'limited', 'first', 'share', 'more', 'rated'])
      expect(lean).not.toContain(`  ${cte} AS (`);
    // the full statement has them all
    for (const cte of ['limited_due', 'limited', 'first', 'share', 'more', 'rated'])
      expect(full).toContain(`  ${cte} AS (`);
  });
});
