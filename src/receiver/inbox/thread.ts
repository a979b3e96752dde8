import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The inbox's thread entries, each a file beside this one. */
export type InboxThread = 'writer-worker' | 'checkpointer-worker';

const entries = new Map<InboxThread, { script: URL } | { bootstrap: string }>();

/**
 * Starts one of the inbox's threads from the file beside this one (the built `.js` in `dist/`). Run
 * from TypeScript sources (vitest, tsx) only the `.ts` exists, and a worker does not inherit the
 * parent's loader. Then the build's copy of this directory runs when it is as new as the sources
 * (`npm test` builds first): a worker that registers tsx's module hooks itself can deadlock on
 * Node 20 (nodejs/node#50948, #53182), and CI hung that way. Without a fresh build, the worker
 * registers tsx before importing the entry.
 */
export function startInboxThread(name: InboxThread, workerData: unknown): Worker {
  let entry = entries.get(name);
  if (!entry) {
    entry = resolveEntry(name);
    entries.set(name, entry);
  }
  return 'script' in entry
    ? new Worker(entry.script, { workerData })
    : new Worker(entry.bootstrap, { eval: true, workerData });
}

function resolveEntry(name: InboxThread): { script: URL } | { bootstrap: string } {
  const js = new URL(`./${name}.js`, import.meta.url);
  if (fs.existsSync(fileURLToPath(js))) return { script: js };
  const ts = new URL(`./${name}.ts`, import.meta.url);
  if (!fs.existsSync(fileURLToPath(ts)))
    throw new Error(`the inbox thread entry is missing: ${fileURLToPath(js)}`);
  const built = freshBuild(fileURLToPath(new URL('.', import.meta.url)), name);
  if (built) return { script: pathToFileURL(built) };
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const tsxApi = new URL('./dist/esm/api/index.mjs', pathToFileURL(tsxPackage));
  return {
    bootstrap: `import(${JSON.stringify(tsxApi.href)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ts.href)}); });`,
  };
}

/**
 * `dist/…/<name>.js` for the `src/…` directory `sourceDir`, when every built file there is as new as
 * every source (exported for its test).
 */
export function freshBuild(sourceDir: string, name: string): string | undefined {
  const at = sourceDir.lastIndexOf(`${path.sep}src${path.sep}`);
  if (at < 0) return undefined;
  const dist = path.join(sourceDir.slice(0, at), 'dist', sourceDir.slice(at + 5));
  const script = path.join(dist, `${name}.js`);
  if (!fs.existsSync(script)) return undefined;
  const mtimes = (dir: string, ext: string) =>
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(ext))
      .map((f) => fs.statSync(path.join(dir, f)).mtimeMs);
  const newestSource = Math.max(...mtimes(sourceDir, '.ts'));
  const oldestBuilt = Math.min(...mtimes(dist, '.js'));
  return oldestBuilt >= newestSource ? script : undefined;
}
