/**
 * Migration 026 builds two claim statements from one set of pieces: its full statement must stay
 * 024's, word for word (every behaviour the claim tests pin down on the full path), and its lean one
 * must leave out what it exists to leave out (the rate-limit branches and the slow path).
 */
import { describe, expect, it } from 'vitest';
import { sql as claimReports } from '../../src/storage/postgres/migrations/024_claim_reports.js';
import { sql as claimFastPath } from '../../src/storage/postgres/migrations/026_claim_fast_path.js';

/** The statement after `RETURN QUERY` in a tpcs_claim definition. */
function returnedQuery(sql: string): string {
  const start = sql.indexOf('  RETURN QUERY\n');
  const end = sql.indexOf('END\n$fn$;', start);
  if (start < 0 || end < 0) throw new Error('no RETURN QUERY … END in the function');
  return sql.slice(start + '  RETURN QUERY\n'.length, end);
}

/** The statement the lean path loops over. */
function leanQuery(sql: string): string {
  const start = sql.search(/ IN\s+WITH\n/);
  const end = sql.indexOf(' LOOP\n', start);
  if (start < 0 || end < 0) throw new Error('no FOR … IN WITH … LOOP in the function');
  return sql.slice(start + ' IN'.length, end);
}

describe('tpcs_claim statements (migration 026)', () => {
  it('keeps 024’s statement as the full path, word for word', () => {
    expect(returnedQuery(claimFastPath)).toBe(returnedQuery(claimReports));
  });

  it('leaves the rate-limit branches and the slow path out of the lean statement', () => {
    const lean = leanQuery(claimFastPath);
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
    const full = returnedQuery(claimFastPath);
    for (const cte of ['limited_due', 'limited', 'first', 'share', 'more', 'rated'])
      expect(full).toContain(`  ${cte} AS (`);
  });
});
