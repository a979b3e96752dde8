import { readFileSync } from 'node:fs';
import { STAMP, sourceDigest } from '../../scripts/build-stamp.mjs';

/**
 * Whether `dist/` was built from `src/` as it is now (`npm test` builds first): the build writes the
 * digest of its inputs to dist/.source-digest (scripts/build-stamp.mjs), compared here by content.
 * Tests that run the build check this rather than rebuild: tsc rewrites files in place, under any
 * test file running the built CLI at the same time (a `tpcs serve` once failed in CI importing a
 * module that was being rewritten).
 */
export function buildIsFresh(): boolean {
  let built: string;
  try {
    built = readFileSync(STAMP, 'utf8').trim();
  } catch {
    return false;
  }
  return built === sourceDigest();
}
