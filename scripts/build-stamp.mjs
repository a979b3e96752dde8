// @ts-check
/**
 * The build's last step: writes the digest of what dist/ was built from (every file under src/ and
 * the two tsconfig files) to dist/.source-digest. Tests that need the build compare it with the
 * digest of the files as they are now (test/support/build.ts), by content: file times say nothing
 * reliable on a fresh clone, and a test that rebuilt dist/ needlessly rewrote modules under the feet
 * of every other test file running the built CLI.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const STAMP = join(ROOT, 'dist', '.source-digest');

/** sha256 over the build's inputs: each file's path and content, in path order. */
export function sourceDigest() {
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .concat([join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json')])
    .map((file) => file.slice(ROOT.length))
    .sort();
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(ROOT, file)))
      .update('\0');
  return hash.digest('hex');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(STAMP, `${sourceDigest()}\n`);
