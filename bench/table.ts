/**
 * Small helpers every benchmark shares: a Markdown table, the machine it ran on, a median.
 * Benchmarks print Markdown so their output can be pasted into docs/benchmarks.md as is.
 */
import { cpus, platform, release } from 'node:os';

export type Alignment = 'left' | 'right';

/**
 * Renders rows as a Markdown table with padded columns (readable in a terminal and in a diff).
 *
 * @example
 * ```ts
 * console.log(markdownTable(['impl', 'ops/s'], [['ours', '412,000']], ['left', 'right']));
 * // | impl | ops/s   |
 * // | :--- | ------: |
 * // | ours | 412,000 |
 * ```
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Alignment[] = [],
): string {
  const widths = header.map((title, column) =>
    Math.max(3, title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${widths
      .map((width, column) => {
        const cell = cells[column] ?? '';
        return align[column] === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join(' | ')} |`;
  const rule = `| ${widths
    .map((width, column) =>
      align[column] === 'right' ? `${'-'.repeat(width - 1)}:` : `:${'-'.repeat(width - 1)}`,
    )
    .join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * One line naming the machine and runtime, so a number is never quoted without its context.
 *
 * @example
 * ```ts
 * describeMachine(); // 'Intel(R) Xeon(R) CPU @ 2.20GHz, 2 cores, linux 6.1.0, Node v20.20.2'
 * ```
 */
export function describeMachine(): string {
  const all = cpus();
  const model = all[0]?.model.trim() ?? 'unknown CPU';
  return `${model}, ${all.length} cores, ${platform()} ${release()}, Node ${process.version}`;
}

/**
 * The median, which a single noisy round (GC, a neighbour's job) cannot drag around like a mean.
 *
 * @example
 * ```ts
 * median([3, 1, 200]); // 3
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * An integer with thousands separators, e.g. `412,345`.
 *
 * @example
 * ```ts
 * formatInteger(412345.6); // '412,346'
 * ```
 */
export function formatInteger(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/**
 * The key benchmarks store endpoint secrets under (`SECRETS_KEY`): PostgreSQL needs one, and a fixed
 * key lets a benchmark's own `openStorage` and the `tpcs` processes it starts read the same rows.
 */
export const BENCH_SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');
