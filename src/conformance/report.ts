/** The pass/fail table `tpcs conformance` prints. */
import type { CheckResult } from './run.js';

const EXPECTED: Record<CheckResult['check']['expect'], string> = {
  accepted: '200',
  invalid: '400',
  refused: '401',
  too_large: '413',
};

const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;

/**
 * The results as a plain-text table (no colours, so it reads the same in a log), then a summary line.
 *
 * @example
 * console.log(formatReport(results));
 */
export function formatReport(results: readonly CheckResult[]): string {
  const titleWidth = Math.max(5, ...results.map((r) => r.check.title.length));
  const lines = [`${'check'.padEnd(titleWidth)}  expect  got   result`];
  let group = '';
  for (const r of results) {
    if (r.check.group !== group) {
      group = r.check.group;
      lines.push(`-- ${group}`);
    }
    const got = r.status === null ? '---' : String(r.status);
    const note = r.note ? `  ${r.note}` : '';
    lines.push(
      `${r.check.title.padEnd(titleWidth)}  ${EXPECTED[r.check.expect].padEnd(6)}  ${got.padEnd(4)}  ${MARK[r.verdict]}${note}`,
    );
  }
  const count = (v: CheckResult['verdict']) => results.filter((r) => r.verdict === v).length;
  lines.push(
    '',
    `${count('pass')} passed, ${count('warn')} warning${count('warn') === 1 ? '' : 's'}, ${count('fail')} failed of ${results.length} checks`,
  );
  return lines.join('\n');
}
