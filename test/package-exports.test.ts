/**
 * What a partner imports: every entry of package.json "exports", read from the map itself (a new
 * entry is covered without touching this test) and imported by its public name (`tpcs/receiver`,
 * Node's self-reference) from the build, as an app that installed the package would. Each must exist
 * after `npm run build`, with its types, export what its source module exports, and provide every name
 * the docs import from it (`import { … } from 'tpcs/…'` in README.md, docs/, examples/ and JSDoc).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildIsFresh } from './support/build.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | Record<string, string>>;
};

/** `./receiver` → `tpcs/receiver`, with the built file it points at. */
const entries = Object.entries(pkg.exports).map(([key, target]) => {
  if (key.includes('*')) throw new Error(`export patterns are not covered by this test: ${key}`);
  const file = typeof target === 'string' ? target : (target.import ?? target.default);
  if (!file) throw new Error(`export ${key} has no import or default target`);
  return { specifier: key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`, file: path.join(ROOT, file) };
});

/** The source module a built file comes from: `dist/receiver/index.js` → `src/receiver/index.ts`. */
function sourceOf(built: string): string {
  return path.join(ROOT, 'src', path.relative(path.join(ROOT, 'dist'), built)).replace(/\.js$/, '.ts');
}

function filesUnder(dir: string, ext: string): string[] {
  if (!existsSync(path.join(ROOT, dir))) return [];
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(ext))
    .map((f) => path.join(ROOT, dir, f));
}

/** The value names the docs import from each `tpcs…` specifier (type-only imports left out). */
function documentedImports(): Map<string, Set<string>> {
  const docs = [
    path.join(ROOT, 'README.md'),
    ...filesUnder('docs', '.md'),
    ...filesUnder('examples', '.ts'),
    ...filesUnder('src', '.ts'),
  ];
  const found = new Map<string, Set<string>>();
  const pattern = new RegExp(`import\\s+\\{([^}]*)\\}\\s+from\\s+'(${pkg.name}(?:/[\\w/-]+)?)'`, 'g');
  for (const file of docs) {
    for (const [, names = '', specifier = ''] of readFileSync(file, 'utf8').matchAll(pattern)) {
      const set = found.get(specifier) ?? new Set<string>();
      for (const name of names.split(',').map((n) => n.replace(/\*/g, '').trim())) {
        if (name !== '' && !name.startsWith('type ')) set.add(name.split(/\s+as\s+/)[0] as string);
      }
      found.set(specifier, set);
    }
  }
  return found;
}

describe('package.json "exports"', () => {
  /** Each specifier's export names, or why it could not be imported. */
  let built: Record<string, string[] | string>;
  const namesOf = (specifier: string): string[] => {
    const names = built[specifier];
    if (typeof names === 'string') throw new Error(`import('${specifier}') failed: ${names}`);
    return names ?? [];
  };

  beforeAll(() => {
    // what `npm ci` builds (its prepare script); `npm test` has built it already
    if (!buildIsFresh()) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    // A separate Node process, run from the package root: the specifiers resolve through "exports".
    const script = `const out = {};
for (const s of ${JSON.stringify(entries.map((e) => e.specifier))}) {
  try { out[s] = Object.keys(await import(s)).sort(); } catch (e) { out[s] = String(e.message); }
}
console.log(JSON.stringify(out));`;
    built = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }),
    ) as Record<string, string[] | string>;
  }, 180_000);

  it('names only files the build makes, each with its type declarations', () => {
    expect(entries.map((e) => e.specifier)).toEqual(expect.arrayContaining([`${pkg.name}/client`]));
    for (const { specifier, file } of entries) {
      expect(existsSync(file), `${specifier} → ${path.relative(ROOT, file)}`).toBe(true);
      expect(existsSync(file.replace(/\.js$/, '.d.ts')), `${specifier} types`).toBe(true);
    }
  });

  it.each(entries)(
    '$specifier exports, from the build, what its source module exports',
    async ({ specifier, file }) => {
      const names = namesOf(specifier);
      expect(names.length, specifier).toBeGreaterThan(0);
      const source = (await import(pathToFileURL(sourceOf(file)).href)) as Record<string, unknown>;
      expect(names).toEqual(Object.keys(source).sort());
    },
  );

  it('provides every name the docs import, from an entry that exists', () => {
    const documented = documentedImports();
    expect([...(documented.get(`${pkg.name}/receiver`) ?? [])]).toEqual(
      expect.arrayContaining(['createNodeHandler', 'createReceiver']),
    );
    expect([...(documented.get(`${pkg.name}/client`) ?? [])]).toEqual(
      expect.arrayContaining(['createTpcsClient']),
    );
    for (const [specifier, names] of documented) {
      expect(Object.keys(built), `the docs import from ${specifier}`).toContain(specifier);
      for (const name of names) expect(namesOf(specifier), `${name} from ${specifier}`).toContain(name);
    }
  });
});
