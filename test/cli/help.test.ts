/**
 * Every command's `--help` teaches by example: at least one Examples line, every example runnable as
 * written (its flags exist, its required settings are given, its setting values are valid, its
 * environment variables are ones tpcs reads, its ids have the shape the API gives out), and the one
 * exit-code rule at the end. Runs the built CLI (`npm run build`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, settingsOf } from '../../src/config/index.js';
import { SETTINGS } from '../../src/config/settings.js';
import { pointInTime } from '../../src/config/values.js';
import { type Run, tpcs } from './processes.js';

/** Every command a user can run, groups' subcommands included. */
const LEAVES = [...COMMANDS, 'tokens admin'] as const;
/** The variables tpcs reads: the settings' and the CLI's own. */
const KNOWN_ENV = new Set([
  ...Object.values(SETTINGS).map((s) => s.env),
  'TPCS_TOKEN',
  'TPCS_CUSTOMER_ID',
  'TPCS_API',
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The options `--help` lists, each with whether it takes a value: `<x>` required, `[x]` optional. */
function optionsOf(help: string): Map<string, 'value' | 'optional' | 'none'> {
  const options = new Map<string, 'value' | 'optional' | 'none'>();
  for (const line of help.split('\n')) {
    const m = /^ {2}(?:(-\w), )?(--[\w-]+)(?: (<[^>]+>|\[[^\]]+\]))?/.exec(line);
    if (!m) continue;
    const takes = m[3] === undefined ? 'none' : m[3].startsWith('<') ? 'value' : 'optional';
    if (m[1]) options.set(m[1], takes);
    options.set(m[2] as string, takes);
  }
  return options;
}

/** The example command lines after "Examples:" (continuations joined), without the `$ `. */
function examplesOf(help: string): string[] {
  const at = help.search(/^Examples?:$/m);
  if (at === -1) return [];
  const lines: string[] = [];
  for (const line of help.slice(at).split('\n').slice(1)) {
    if (line.trim() === '' || !line.startsWith('  ')) break;
    const previous = lines.at(-1);
    if (previous?.endsWith('\\')) lines[lines.length - 1] = `${previous.slice(0, -1)} ${line.trim()}`;
    else if (line.startsWith('  $ ')) lines.push(line.slice(4));
  }
  return lines;
}

/** Shell words, quotes kept together and removed; stops at a pipe, a redirect, `;`, `&` or a comment. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const match of line.matchAll(/(?:[^\s'"]+|'[^']*'|"[^"]*")+/g)) {
    const word = match[0];
    if (/^(\||>|<|;|&|&&|#)/.test(word)) break;
    out.push(word.replace(/'([^']*)'|"([^"]*)"/g, '$1$2'));
  }
  return out;
}

/** What an example gives: environment variables set before `tpcs`, the command words, and the flags with their values. */
function parseExample(line: string, options: Map<string, 'value' | 'optional' | 'none'>) {
  // `SECRET=$(tpcs …)` captures a command's output: the command inside is the example
  const captured = /^[A-Z_]+=\$\((.*)\)$/.exec(line.trim());
  const w = words(captured?.[1] ?? line);
  const env: string[] = [];
  while (w[0] !== undefined && /^[A-Z_]+=/.test(w[0]))
    env.push((w.shift() as string).split('=')[0] as string);
  const flags: { flag: string; value: string | undefined }[] = [];
  const command: string[] = [];
  w.shift(); // tpcs
  for (let i = 0; i < w.length; i++) {
    const word = w[i] as string;
    if (!word.startsWith('-')) {
      command.push(word);
      continue;
    }
    const [flag, inline] = word.split('=', 2) as [string, string | undefined];
    const takes = options.get(flag);
    const next = w[i + 1];
    const value =
      inline ??
      (takes === 'value' || (takes === 'optional' && next !== undefined && !next.startsWith('-'))
        ? next
        : undefined);
    if (inline === undefined && value !== undefined) i++;
    flags.push({ flag, value });
  }
  return { env, command, flags };
}

describe('--help of every command', () => {
  const helps = new Map<string, Run>();
  beforeAll(async () => {
    const runs = await Promise.all(LEAVES.map((c) => tpcs([...c.split(' '), '--help'])));
    for (const [i, command] of LEAVES.entries()) helps.set(command, runs[i] as Run);
  });

  it.each(LEAVES)('%s: exits 0, with examples and the exit codes', (command) => {
    const run = helps.get(command) as Run;
    expect(run.code).toBe(0);
    expect(examplesOf(run.stdout).length, run.stdout).toBeGreaterThan(0);
    expect(run.stdout).toContain('Exit codes (the same for every tpcs command):');
    expect(run.stdout).toMatch(/^ {2}2 {2}usage error/m);
    // ids as the API makes them (UUIDs), not shapes it never gives out
    expect(run.stdout).not.toMatch(/\b(wh|dl|evt)_/);
  });

  it.each(LEAVES)('%s: every example runs as written', (command) => {
    const help = (helps.get(command) as Run).stdout;
    const options = optionsOf(help);
    const settings = command === 'tokens admin' ? {} : settingsOf(command);
    const exported = new Set<string>();
    for (const line of examplesOf(help)) {
      if (line.startsWith('export ')) {
        for (const word of words(line).slice(1)) exported.add(word.split('=')[0] as string);
        continue;
      }
      const example = parseExample(line, options);
      expect(line.includes(`tpcs ${command}`), line).toBe(true);
      for (const name of example.env) expect(KNOWN_ENV.has(name), `${name} in: ${line}`).toBe(true);
      for (const { flag, value } of example.flags) {
        expect(options.has(flag), `${flag} is not an option of tpcs ${command}: ${line}`).toBe(true);
        if (flag === '--webhook' || flag === '--delivery') expect(value, line).toMatch(UUID);
        // a value written out (not elided with … or a shell variable) must be one tpcs accepts
        const setting = Object.values(settings).find((s) => s.flag.split(/[ ,]+/).includes(flag));
        if (setting && value !== undefined && !/[…$]/.test(value)) {
          expect(setting.schema.safeParse(value).success, `${flag} ${value}: ${line}`).toBe(true);
        }
      }
      expect(example.command.join(' '), line).toBe(command);
      // every required setting is there, by flag, by variable, or exported before
      for (const setting of Object.values(settings).filter((s) => s.required)) {
        const given =
          example.flags.some((f) => setting.flag.split(/[ ,]+/).includes(f.flag)) ||
          (setting.env !== undefined && (example.env.includes(setting.env) || exported.has(setting.env)));
        expect(given, `${setting.flag} missing in: ${line}`).toBe(true);
      }
    }
  });

  it('suggests only --now and --since values that are accepted', () => {
    for (const [command, flag] of [
      ['verify', '--now'],
      ['recover', '--since'],
    ] as const) {
      const help = (helps.get(command) as Run).stdout.replace(/\s+/g, ' ');
      const described = new RegExp(`${flag} <time> ([^(]*\\(([^)]*)\\))`).exec(help);
      const suggested = described?.[2]?.split(/,\s*/) ?? [];
      expect(suggested.length, help).toBeGreaterThan(1);
      for (const value of suggested)
        expect(pointInTime.safeParse(value).success, `${flag} ${value}`).toBe(true);
    }
  });
});
