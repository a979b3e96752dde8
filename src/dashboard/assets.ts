/**
 * The dashboard's stylesheet and script: the files in `./assets/`, served exactly as they are there.
 * They are read once, when the dashboard is registered, from beside this module: `src/dashboard/assets/`
 * when the sources run, `dist/dashboard/assets/` once built (`npm run build` copies them there).
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { PUBLIC_ROUTE } from './hooks.js';
import { BASE, CSS_URL, JS_URL } from './layout.js';

const ASSETS = [
  { url: CSS_URL, file: 'app.css', type: 'text/css; charset=utf-8' },
  { url: JS_URL, file: 'app.js', type: 'text/javascript; charset=utf-8' },
] as const;

/** Reads the assets and registers a public route for each; a missing file fails the start. */
export async function registerAssets(app: FastifyInstance): Promise<void> {
  for (const asset of ASSETS) {
    const body = await readFile(new URL(`./assets/${asset.file}`, import.meta.url), 'utf8');
    // no-cache: the browser keeps its copy but asks again each time, so a new release is seen at once
    app.get(asset.url.slice(BASE.length), PUBLIC_ROUTE, async (_request, reply) =>
      reply.type(asset.type).header('cache-control', 'no-cache').send(body),
    );
  }
}
