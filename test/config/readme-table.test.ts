/** The README's settings table is the settings table: they cannot drift apart. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderSettingsTable, withFreshTable } from '../../scripts/settings-table.js';
import { SETTINGS } from '../../src/config/index.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe("the README's settings table", () => {
  it('is the one made from src/config/settings.ts (npx tsx scripts/settings-table.ts rewrites it)', () => {
    expect(README, 'the README settings table is stale: run npx tsx scripts/settings-table.ts').toBe(
      withFreshTable(README),
    );
  });

  it('lists every setting with its variable, flag and default', () => {
    const table = renderSettingsTable();
    for (const setting of Object.values(SETTINGS)) {
      const row = table
        .split('\n')
        .find((line) => line.includes(`\`${setting.flag}\``) && line.includes(setting.description));
      expect(row, setting.env).toContain(`\`${setting.env}\``);
      if ('default' in setting) expect(row).toContain(`\`${setting.default}\``);
    }
  });
});
