/**
 * Writes the README's settings table from the one table of settings (src/config/settings.ts), between
 * the `settings-table` markers. Run with `npx tsx scripts/settings-table.ts`; test/config/readme-table
 * fails when the README's copy is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type CommandName, SETTINGS, type Setting } from '../src/config/index.js';

const README = new URL('../README.md', import.meta.url);
export const TABLE_START = '<!-- settings-table: start (npx tsx scripts/settings-table.ts writes it) -->';
export const TABLE_END = '<!-- settings-table: end -->';

/** The Markdown table: one row per setting, in the table's order, columns aligned. */
export function renderSettingsTable(): string {
  const header = ['variable', 'flag', 'commands', 'default', 'meaning'];
  const rows = (Object.values(SETTINGS) as Setting[]).map((s) => [
    `\`${s.env}\``,
    `\`${s.flag}\``,
    commandsColumn(s),
    s.defaultLabel ?? (s.default === undefined ? '' : `\`${s.default}\``),
    s.description,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `| ${widths.map((w) => `:${'-'.repeat(w - 1)}`).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** `serve, worker`; a command that needs the setting says so. */
function commandsColumn(setting: Setting): string {
  return (Object.entries(setting.commands) as [CommandName, 'required' | 'optional'][])
    .map(([command, use]) => (use === 'required' ? `${command} (required)` : command))
    .join(', ');
}

/** The README with its table replaced by a fresh one. */
export function withFreshTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start === -1 || end < start) throw new Error(`README.md has no ${TABLE_START} … ${TABLE_END}`);
  return `${readme.slice(0, start + TABLE_START.length)}\n\n${renderSettingsTable()}\n\n${readme.slice(end)}`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(README, withFreshTable(readFileSync(README, 'utf8')));
}
