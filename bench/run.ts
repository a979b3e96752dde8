/**
 * Runs the benchmarks: every one in bench/, or the ones named, one after the other, each in a
 * process of its own. Builds first (`npm run build`): some drive the built CLI (`bin/tpcs.js`).
 *
 *   npm run bench                            every benchmark (several minutes; each says how long)
 *   npm run bench -- receiver signing        the ones named
 *   npm run bench -- --list                  their names, and what each measures
 *   npm run bench -- delivery -- --quick     arguments after `--` go to each benchmark run
 *
 * A benchmark is a `bench/*.ts` file that no other file here imports; the ones imported are helpers
 * (`table.ts`). The tables go to stdout, this runner's own lines to stderr. Exit code 0 when every
 * benchmark ran, 1 when one failed (the others still run), 2 for an unknown name.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const SELF = path.basename(fileURLToPath(import.meta.url));

interface Benchmark {
  name: string;
  file: string;
  /** The first line of its header comment. */
  summary: string;
}

/** The benchmarks in bench/, by name: every `.ts` file but this runner and the helpers others import. */
function findBenchmarks(): Benchmark[] {
  const files = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && f !== SELF)
    .sort();
  const sources = new Map(files.map((f) => [f, readFileSync(path.join(BENCH_DIR, f), 'utf8')]));
  const helpers = new Set<string>();
  for (const source of sources.values()) {
    for (const match of source.matchAll(/(?:from|import)\s*\(?\s*['"]\.\/([\w.-]+)\.js['"]/g)) {
      helpers.add(`${match[1]}.ts`);
    }
  }
  return files
    .filter((f) => !helpers.has(f))
    .map((f) => {
      const name = f.slice(0, -'.ts'.length);
      return { name, file: path.join(BENCH_DIR, f), summary: summaryOf(name, sources.get(f) ?? '') };
    });
}

/** The first sentence of the header comment, without a leading `bench/name:`; at most 100 characters. */
function summaryOf(name: string, source: string): string {
  const header = /^\/\*\*([\s\S]*?)(?:\n\s*\*\s*\n|\*\/)/.exec(source)?.[1] ?? '';
  const paragraph = header.replace(/\n\s*\*\s?/g, ' ').trim();
  const sentence = /^.*?[.?!](?=\s|$)/.exec(paragraph)?.[0] ?? paragraph;
  const text = sentence.replace(new RegExp(`^bench/${name}:\\s*`), '');
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

const USAGE = `usage: npm run bench -- [--list] [name…] [-- arguments for each benchmark]`;

function main(argv: string[]): number {
  const split = argv.indexOf('--');
  const own = split === -1 ? argv : argv.slice(0, split);
  const passed = split === -1 ? [] : argv.slice(split + 1);
  const benchmarks = findBenchmarks();

  if (own.includes('--help') || own.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (own.includes('--list')) {
    const width = Math.max(...benchmarks.map((b) => b.name.length));
    for (const b of benchmarks) console.log(`${b.name.padEnd(width)}  ${b.summary}`);
    return 0;
  }
  const unknownOption = own.find((a) => a.startsWith('-'));
  if (unknownOption) {
    console.error(`bench: unknown option ${unknownOption}\n${USAGE}`);
    return 2;
  }
  const byName = new Map(benchmarks.map((b) => [b.name, b]));
  const unknown = own.filter((name) => !byName.has(name));
  if (unknown.length > 0) {
    console.error(
      `bench: no benchmark named ${unknown.join(', ')}; there are ${benchmarks.map((b) => b.name).join(', ')}`,
    );
    return 2;
  }
  const selected = own.length === 0 ? benchmarks : own.map((name) => byName.get(name) as Benchmark);

  console.error('bench: npm run build');
  if (spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] }).status !== 0) {
    console.error('bench: the build failed');
    return 1;
  }
  const failed: string[] = [];
  for (const b of selected) {
    console.error(
      `\nbench: ${b.name} (${path.relative(ROOT, b.file)}${passed.length ? ` ${passed.join(' ')}` : ''})`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', b.file, ...passed], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (run.status !== 0) {
      console.error(`bench: ${b.name} failed (${run.signal ?? `exit code ${run.status}`})`);
      failed.push(b.name);
    }
  }
  if (failed.length > 0) {
    console.error(`\nbench: ${failed.length} of ${selected.length} failed: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
