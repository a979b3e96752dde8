import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function newest(dir: string, ext: string): number {
  let newestMs = 0;
  for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (f.endsWith(ext)) newestMs = Math.max(newestMs, fs.statSync(path.join(dir, f)).mtimeMs);
  }
  return newestMs;
}

/**
 * Whether `dist/` was built after the last change to `src/` (`npm test` builds first). Tests that run
 * the build check this rather than rebuild: tsc rewrites files in place, under any test file running
 * the build at the same time.
 */
export function buildIsFresh(): boolean {
  const dist = path.join(ROOT, 'dist');
  if (!fs.existsSync(dist)) return false;
  return newest(dist, '.js') >= newest(path.join(ROOT, 'src'), '.ts');
}
