/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core against
 * `node bin/tpcs.js serve` (a real process, temporary SQLite file) and a local receiver that answers
 * 500 until told to answer 200. The operator logs in, records a decision in the review queue, watches
 * the delivery fail with 500s, fixes the receiver, presses Retry (and confirms) and sees it delivered; then a partner
 * logs in (by keyboard) and sees only its own data, also at phone width. Screenshots of the main pages
 * go to a temporary folder, or to docs/screenshots/ with UPDATE_SCREENSHOTS=1 (so that a test run never
 * changes committed files). Needs `npm run build` first (bin/tpcs.js runs dist/).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/http/auth.js';
import { validThirdParty } from '../customers/fixtures.js';
import { browserSkipReason, launchChromium, SHOTS } from '../support/browser.js';
import { freePort } from '../support/net.js';
import { waitFor } from '../support/wait-for.js';

const skipReason = browserSkipReason('dashboard browser test');

const A = '0201001008132685';
const B = '0201001008139999';

/** Reloads until `selector` is on the page (the dispatcher works in the background). */
async function reloadUntil(page: Page, selector: string, ms = 15_000): Promise<void> {
  await waitFor(
    async () => {
      if ((await page.locator(selector).count()) > 0) return true;
      await page.reload();
      return false;
    },
    { timeout: ms, interval: 300, what: selector },
  );
}

describe.skipIf(skipReason !== undefined)('dashboard in a real browser', () => {
  let dir: string;
  let child: ChildProcessWithoutNullStreams;
  let receiver: Server;
  let browser: Browser;
  let base: string;
  let receiverUrl: string;
  let answer = 500;
  const received: number[] = [];
  const output = { text: '' };
  const adminToken = generateToken('admin');

  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tpcs-dashboard-'));
    receiver = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received.push(answer);
        res
          .writeHead(answer, { 'content-type': 'text/plain' })
          .end(answer === 200 ? 'ok' : 'receiver is down');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/webhooks`;

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['bin/tpcs.js', 'serve'], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, 'tpcs.db')}`,
        ADMIN_TOKEN: adminToken,
        ALLOW_PRIVATE_ENDPOINTS: 'true',
        RETRY_SCHEDULE: '1s,1s',
        RETRY_JITTER: 'none',
        DELIVERY_POLL: '200ms',
        LOG_LEVEL: 'warn',
      },
    });
    child.stdout.on('data', (c: Buffer) => {
      output.text += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output.text += c.toString();
    });
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`serve exited:\n${output.text}`);
        return /listening on/.test(output.text);
      },
      { timeout: 45_000, what: () => `serve to start:\n${output.text}` },
    );

    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    if (child && child.exitCode === null) child.kill('SIGTERM');
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs in, decides, watches a delivery fail, retries it delivered, and scopes a partner to its data', async () => {
    const tokenA = (
      await api('POST', '/api/v1/admin/partners', adminToken, { customer_id: A, name: 'Acme Developments' })
    ).token as string;
    const tokenB = (
      await api('POST', '/api/v1/admin/partners', adminToken, { customer_id: B, name: 'Bayside Title' })
    ).token as string;
    const people = [
      ['CUST_001', 'Ada', 'Lovelace'],
      ['CUST_002', 'Grace', 'Hopper'],
      ['CUST_003', 'Katherine', 'Johnson'],
    ] as const;
    for (const [ref, first, last] of people) {
      const body = validThirdParty(ref);
      body.client_customer_details.first_name = first;
      body.client_customer_details.last_name = last;
      body.client_customer_details.email = `${first.toLowerCase()}@example.com`;
      await api('POST', `/api/v1/customers/${A}/third-parties`, tokenA, body);
    }
    await api('POST', `/api/v1/customers/${B}/third-parties`, tokenB, validThirdParty('BAYSIDE_9'));
    const endpoint = await api('POST', `/api/v1/customers/${A}/webhooks`, tokenA, {
      url: receiverUrl,
      event_types: ['THIRD PARTY CUSTOMER STATUS'],
      description: 'Acme production receiver',
    });
    // one decided customer before the browser starts (partner B has no endpoint: nothing is sent)
    await api('POST', `/api/v1/admin/customers/${B}/third-parties/BAYSIDE_9/decision`, adminToken, {
      status: 'APPROVED',
    });

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });

    // log in as the operator
    await page.goto(`${base}/dashboard`);
    expect(page.url()).toContain('/dashboard/login');
    await page.getByLabel('Token').fill(adminToken);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/dashboard/customers');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'Third-party customers',
    );
    expect(await page.getByRole('link', { name: 'BAYSIDE_9' }).count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'customers.png') });

    // the pending customer, in the review queue of partner A
    await page.getByLabel('Partner', { exact: true }).selectOption(A);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByRole('link', { name: 'Review queue' }).click();
    await page.waitForURL(/\/dashboard\/review\?partner=/);
    const card = page.locator('li.review[data-ref="CUST_001"]');
    await expect(card.count()).resolves.toBe(1);
    await page.screenshot({ path: join(SHOTS, 'review-queue.png') });
    await card.getByLabel('Reject', { exact: true }).check();
    await card.getByLabel('Reason code (when rejecting)', { exact: true }).fill('COMPLIANCE_CHECK_FAILED');
    await card
      .getByLabel('Reason (when rejecting)', { exact: true })
      .fill('Proof of address could not be verified');
    await card.getByRole('button', { name: 'Record decision' }).click();
    await page.getByText('Recorded REJECTED for CUST_001.').waitFor();

    // the delivery appears and fails: 3 attempts answered 500 (RETRY_SCHEDULE=1s,1s)
    await page.getByRole('link', { name: 'Endpoints' }).click();
    await page.getByRole('link', { name: receiverUrl }).click();
    await reloadUntil(page, 'article.delivery[data-status="failed"]');
    const failed = page.locator('article.delivery[data-status="failed"]');
    expect(await failed.locator('.attempts li').count()).toBe(3);
    expect(await failed.locator('.attempts').textContent()).toContain('HTTP 500');
    expect(await failed.locator('.excerpt').first().textContent()).toBe('receiver is down');

    // the receiver is fixed; Retry sends it again through the queue
    answer = 200;
    await failed.getByText('Retry now').click();
    await failed.getByRole('button', { name: 'Yes, send it again now' }).click();
    await page.getByText(/queued to be sent again now/).waitFor();
    await reloadUntil(page, 'article.delivery[data-status="delivered"]');
    expect(received).toEqual([500, 500, 500, 200]);
    expect(await page.locator('.attempts').textContent()).toContain('HTTP 200');
    await page.screenshot({ path: join(SHOTS, 'endpoint-deliveries.png'), fullPage: true });

    // the list with health and the live chart, redrawn by the client script under the CSP
    await page.getByRole('link', { name: 'Endpoints' }).click();
    await page.locator('[data-chart-src][data-updated]').waitFor({ timeout: 10_000 });
    expect(await page.locator('.chart-svg rect.bar-failed').count()).toBeGreaterThan(0);
    expect(await page.locator('.chart-svg rect.bar-delivered').count()).toBeGreaterThan(0);
    expect(await page.locator('table').textContent()).toContain('25% of 4');
    await page.screenshot({ path: join(SHOTS, 'endpoints.png') });

    // the timeline: created, the decision with its reason, the event and its delivery
    await page.goto(`${base}/dashboard/customers/${A}/CUST_001`);
    const timeline = await page.locator('.timeline').textContent();
    expect(timeline).toContain('Created');
    expect(timeline).toContain('COMPLIANCE_CHECK_FAILED');
    expect(timeline).toContain('Proof of address could not be verified');
    expect(await page.locator('article.delivery[data-status="delivered"]').count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'timeline.png'), fullPage: true });

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/dashboard/login');
    expect(consoleErrors).toEqual([]);
    await context.close();

    // a partner at phone width, logging in with the keyboard only
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const p = await phone.newPage();
    await p.goto(`${base}/dashboard/customers/${B}/BAYSIDE_9`);
    await p.waitForURL(/\/dashboard\/login/);
    await p.keyboard.press('Tab');
    expect(await p.evaluate(() => document.activeElement?.id)).toBe('token');
    await p.keyboard.type(tokenA);
    await p.keyboard.press('Enter');
    // the page asked for was partner B's: partner A gets 404 for it, and sees only its own customers
    // (the login page's own URL names BAYSIDE_9 in ?next=: wait for the path itself)
    await p.waitForURL((u) => u.pathname.endsWith('/BAYSIDE_9'));
    await p.getByRole('heading', { level: 1, name: 'Not found' }).waitFor();
    await p.goto(`${base}/dashboard/customers`);
    const list = await p.locator('main').textContent();
    expect(list).toContain('CUST_001');
    expect(list).not.toContain('BAYSIDE_9');
    expect(await p.getByRole('link', { name: 'Review queue' }).count()).toBe(0);
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await p.screenshot({ path: join(SHOTS, 'phone-customers.png') });
    await phone.close();
    expect(endpoint.id).toBeTypeOf('string');
  }, 90_000);
});
