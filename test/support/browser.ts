/**
 * What the browser tests share: Debian's Chromium driven by playwright-core (no browser download),
 * whether they can run here, and where their screenshots go: a temporary folder, or docs/screenshots/
 * with UPDATE_SCREENSHOTS=1 (so that a test run never rewrites the committed ones by accident).
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const SHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? join(process.cwd(), 'docs', 'screenshots')
    : mkdtempSync(join(tmpdir(), 'tpcs-screenshots-'));

/**
 * Why the browser test named `what` cannot run here (no Chromium, or no dist/ for bin/tpcs.js), said
 * once on stderr; undefined when it can.
 */
export function browserSkipReason(what: string): string | undefined {
  const reason = existsSync(CHROMIUM)
    ? existsSync('dist/cli/index.js')
      ? undefined
      : 'dist/ is missing: run npm run build first'
    : `${CHROMIUM} is missing (apt-get install -y chromium)`;
  if (reason) console.warn(`${what} skipped: ${reason}`);
  return reason;
}

/** Chromium, headless; launch() gives it a fresh temporary user-data-dir and removes it on close. */
export async function launchChromium(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
  mkdirSync(SHOTS, { recursive: true });
  return browser;
}
