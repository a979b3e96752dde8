/**
 * `npm run bench` runs bench/run.ts: it must know every benchmark in bench/ (every `.ts` file there
 * but itself and the helpers the benchmarks import), and refuse a name it does not know.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BENCH = new URL('../../bench/', import.meta.url);
const ROOT = new URL('../../', import.meta.url);

/** bench/*.ts, without run.ts and the modules another bench file imports (`./table.js`). */
function benchmarkFiles(): string[] {
  const files = readdirSync(BENCH).filter((f) => f.endsWith('.ts') && f !== 'run.ts');
  const imported = files.flatMap((f) =>
    [...readFileSync(new URL(f, BENCH), 'utf8').matchAll(/from '\.\/([\w.-]+)\.js'/g)].map(
      (m) => `${m[1]}.ts`,
    ),
  );
  return files.filter((f) => !imported.includes(f));
}

describe('bench/run.ts', () => {
  it('lists every benchmark, with what it measures, and no helper', async () => {
    const { stdout } = await run('npx', ['tsx', 'bench/run.ts', '--list'], { cwd: ROOT });
    const listed = stdout
      .trim()
      .split('\n')
      .map((line) => /^(\S+)\s+(.+)$/.exec(line) ?? ['', line, '']);
    const names = listed.map(([, name]) => name);
    const expected = benchmarkFiles().map((f) => f.replace(/\.ts$/, ''));
    expect(expected).toEqual(expect.arrayContaining(['receiver', 'signing', 'delivery']));
    expect(names.sort()).toEqual(expected.sort());
    expect(names).not.toContain('table');
    for (const [, name, summary] of listed) expect(summary, name).not.toBe('');
  });

  it('refuses an unknown benchmark with exit code 2, before building anything', async () => {
    const failed = await run('npx', ['tsx', 'bench/run.ts', 'no-such-bench'], { cwd: ROOT }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain('no benchmark named no-such-bench');
  });
});
