import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/contract/index.js';
import { invalidCorpus } from './invalid-corpus.js';

describe('invalid payloads', () => {
  it('has at least 50 distinct cases', () => {
    expect(invalidCorpus.length).toBeGreaterThanOrEqual(50);
    expect(new Set(invalidCorpus.map((c) => c.name)).size).toBe(invalidCorpus.length);
    const bodies = invalidCorpus.map((c) =>
      typeof c.body === 'string' ? c.body : `bytes:${c.body.join(',')}`,
    );
    expect(new Set(bodies).size).toBe(bodies.length);
  });

  it.each(invalidCorpus.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = parseEvent(c.body);
    if (result.ok) throw new Error('accepted an invalid payload');
    const match = result.problems.find((p) => p.path === c.path && p.message.includes(c.message));
    expect(match, `expected a problem at ${c.path} containing ${JSON.stringify(c.message)}`).toBeDefined();
    expect(result.problems).toHaveLength(c.count ?? 1);
  });
});
