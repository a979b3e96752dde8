import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The inbox's thread entries, each a file beside this one. */
export type InboxThread = 'writer-worker' | 'checkpointer-worker';

const entries = new Map<InboxThread, { script: URL } | { bootstrap: string }>();

/**
 * Starts one of the inbox's threads from the file beside this one (the built `.js` in `dist/`). Run
 * from TypeScript sources (vitest, tsx) only the `.ts` exists, and a worker does not inherit the
 * parent's loader: the worker then registers tsx itself before importing the entry.
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
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const tsxApi = new URL('./dist/esm/api/index.mjs', pathToFileURL(tsxPackage));
  return {
    bootstrap: `import(${JSON.stringify(tsxApi.href)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ts.href)}); });`,
  };
}
