import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshBuild } from '../../src/receiver/inbox/thread.js';
import { tempDir } from './helpers.js';

// Run from TypeScript sources, an inbox thread starts from the build's copy of its directory when
// that copy is as new as the sources, rather than registering tsx's hooks inside the thread.
describe('freshBuild: the built copy of an inbox thread, for runs from sources', () => {
  function tree(): { src: string; dist: string } {
    const root = tempDir();
    const src = path.join(root, 'src', 'receiver', 'inbox');
    const dist = path.join(root, 'dist', 'receiver', 'inbox');
    fs.mkdirSync(src, { recursive: true });
    fs.mkdirSync(dist, { recursive: true });
    for (const f of ['writer-worker', 'sqlite']) {
      fs.writeFileSync(path.join(src, `${f}.ts`), '');
      fs.writeFileSync(path.join(dist, `${f}.js`), '');
      fs.writeFileSync(path.join(dist, `${f}.d.ts`), '');
    }
    return { src, dist };
  }
  const at = (file: string, seconds: number) => fs.utimesSync(file, seconds, seconds);

  it('is the built script when every built file is at least as new as every source', () => {
    const { src, dist } = tree();
    for (const f of ['writer-worker.ts', 'sqlite.ts']) at(path.join(src, f), 1000);
    for (const f of ['writer-worker.js', 'sqlite.js']) at(path.join(dist, f), 1000);
    expect(freshBuild(`${src}${path.sep}`, 'writer-worker')).toBe(path.join(dist, 'writer-worker.js'));
  });

  it('is nothing when any source was changed after the build (the entry or a module it imports)', () => {
    const { src, dist } = tree();
    for (const f of ['writer-worker.js', 'sqlite.js']) at(path.join(dist, f), 1000);
    at(path.join(src, 'writer-worker.ts'), 1000);
    at(path.join(src, 'sqlite.ts'), 1001);
    expect(freshBuild(`${src}${path.sep}`, 'writer-worker')).toBeUndefined();
  });

  it('is nothing without a built script, or outside a src/ directory', () => {
    const { src, dist } = tree();
    fs.rmSync(path.join(dist, 'writer-worker.js'));
    expect(freshBuild(`${src}${path.sep}`, 'writer-worker')).toBeUndefined();
    expect(freshBuild(`${dist}${path.sep}`, 'sqlite')).toBeUndefined();
  });
});
