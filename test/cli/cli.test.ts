import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const tpcs = (...args: string[]) => execFileSync('node', ['bin/tpcs.js', ...args], { encoding: 'utf8' });

describe('tpcs CLI', () => {
  it('prints its version', () => {
    expect(tpcs('--version').trim()).toBe('0.1.0');
  });

  it('lists its commands in --help', () => {
    expect(tpcs('--help')).toContain('serve');
  });
});
