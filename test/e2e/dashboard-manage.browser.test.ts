/**
 * Real work in the dashboard, in Debian's Chromium driven by playwright-core against
 * `node bin/tpcs.js serve` (a real process, temporary SQLite file) and a local receiver: a partner
 * subscribes an endpoint and reads its secret once, is told in place that a URL is taken, edits it,
 * disables and enables it (confirming first), rotates the secret, sends a test event that arrives,
 * searches deliveries by third party and retries a failed one after confirming; the operator sees a
 * whole submission in the review queue, is told in place that a REJECT needs a reason with the form as
 * it was, and finds a customer by name. Every page fits a 390 px phone and a 1280 px desktop without
 * scrolling sideways. Screenshots as in dashboard.browser.test.ts (UPDATE_SCREENSHOTS=1 writes
 * docs/screenshots/). Needs `npm run build` first (bin/tpcs.js runs dist/).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/http/auth.js';
import { validThirdParty } from '../customers/fixtures.js';
import { browserSkipReason, launchChromium, SHOTS } from '../support/browser.js';
import { freePort } from '../support/net.js';
import { waitFor } from '../support/wait-for.js';

const skipReason = browserSkipReason('dashboard management browser test');

const A = '0201001008132685';
const TYPE = 'THIRD PARTY CUSTOMER STATUS';

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

/** How wide the page's content is: at most the screen's width when it does not scroll sideways. */
const scrollWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

describe.skipIf(skipReason !== undefined)('dashboard management in a real browser', () => {
  let dir: string;
  let child: ChildProcessWithoutNullStreams;
  let receiver: Server;
  let browser: Browser;
  let base: string;
  let receiverUrl: string;
  let answer = 500;
  const received: { status: number; body: string; signature: string }[] = [];
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

  const loggedIn = async (token: string, width: number): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({
      viewport: { width, height: width < 500 ? 844 : 800 },
      ...(width < 500 ? { isMobile: true, hasTouch: true } : {}),
    });
    const page = await context.newPage();
    await page.goto(`${base}/dashboard/login`);
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/dashboard/customers');
    return { context, page };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tpcs-dashboard-manage-'));
    receiver = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        received.push({ status: answer, body, signature: String(req.headers['webhook-signature']) });
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

  it('manages an endpoint, searches and retries deliveries, reviews a submission, and fits a phone', async () => {
    const tokenA = (
      await api('POST', '/api/v1/admin/partners', adminToken, { customer_id: A, name: 'Acme Developments' })
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

    // the partner subscribes an endpoint; its secret is on the next page, once
    const { context, page } = await loggedIn(tokenA, 1280);
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      // a form sent back with 400 or 409 is a page like any other, but Chromium logs its status
      if (m.type() === 'error' && !/status of (400|409)/.test(m.text())) consoleErrors.push(m.text());
    });
    await page.getByRole('link', { name: 'Endpoints' }).click();
    await page.getByRole('link', { name: 'Add an endpoint' }).click();
    await page.getByLabel('URL').fill(receiverUrl);
    await page.getByLabel(TYPE).check();
    await page.getByLabel('Description (optional)').fill('Acme production receiver');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByRole('heading', { name: 'Signing secret: store it now' }).waitFor();
    const secret = (await page.locator('[data-secret]').textContent()) as string;
    expect(secret).toMatch(/^whsec_/);
    const endpointPath = new URL(
      (await page.locator('form.endpoint-form').getAttribute('action')) as string,
      base,
    ).pathname.replace(/\/edit$/, '');
    await page.goto(`${base}${endpointPath}`);
    expect(await page.content()).not.toContain(secret);
    expect(await page.locator('[data-secret]').count()).toBe(0);

    // the same URL again: told in place, with what was typed kept
    await page.goto(`${base}/dashboard/endpoints/new`);
    await page.getByLabel('URL').fill(receiverUrl);
    await page.getByLabel(TYPE).check();
    await page.getByLabel('Description (optional)').fill('a second one');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.locator('#ep-url-error').waitFor();
    expect(await page.locator('#ep-url-error').textContent()).toContain('already has this URL');
    expect(await page.getByLabel('URL').inputValue()).toBe(receiverUrl);
    expect(await page.getByLabel('Description (optional)').inputValue()).toBe('a second one');
    expect(await page.getByLabel(TYPE).isChecked()).toBe(true);

    // edit, disable (confirmed) and enable, rotate (confirmed)
    await page.goto(`${base}${endpointPath}`);
    await page.getByLabel('Description (optional)').fill('Acme receiver (edited)');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Endpoint saved.').waitFor();
    expect(await page.locator('.facts').textContent()).toContain('Acme receiver (edited)');
    await page.getByText('Disable…').click();
    await page.getByRole('button', { name: 'Yes, disable it' }).click();
    await page.getByText(/Endpoint disabled/).waitFor();
    expect(await page.locator('.facts').textContent()).toContain('disabled');
    await page.getByRole('button', { name: 'Enable', exact: true }).click();
    await page.getByText(/Endpoint enabled/).waitFor();
    await page.getByText('Rotate the secret…').click();
    await page.getByRole('button', { name: 'Yes, rotate it' }).click();
    await page.getByRole('heading', { name: 'New signing secret: store it now' }).waitFor();
    const rotated = (await page.locator('[data-secret]').textContent()) as string;
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);

    // a test event arrives at the receiver, signed
    answer = 200;
    await page.goto(`${base}${endpointPath}`);
    await page.getByRole('button', { name: 'Send a test event' }).click();
    await page.getByText(/delivered: HTTP 200/).waitFor();
    expect(received).toHaveLength(1);
    expect(received[0]?.body).toContain('"client_customer_ref":"tpcs-test-event"');
    expect(received[0]?.signature).toMatch(/^v1,/);
    answer = 500;
    await page.screenshot({ path: join(SHOTS, 'endpoint-manage.png'), fullPage: true });

    // two decisions; both deliveries fail (3 attempts answered 500)
    await api('POST', `/api/v1/admin/customers/${A}/third-parties/CUST_001/decision`, adminToken, {
      status: 'APPROVED',
    });
    await api('POST', `/api/v1/admin/customers/${A}/third-parties/CUST_002/decision`, adminToken, {
      status: 'REJECTED',
      reasons: [{ code: 'DOCUMENTS_MISSING', reason: 'No proof of address' }],
    });
    await waitFor(
      async () => {
        await page.reload();
        return (await page.locator('article.delivery[data-status="failed"]').count()) === 2;
      },
      { timeout: 20_000, interval: 300, what: 'two failed deliveries' },
    );
    const cards = page.locator('article.delivery');
    expect(await cards.locator('.delivery-event').allTextContents()).toEqual([
      expect.stringMatching(/CUST_002\s+→\s+REJECTED/),
      expect.stringMatching(/CUST_001\s+→\s+APPROVED/),
    ]);

    // search by third party, then retry the failed delivery after confirming
    await page.getByLabel('Third party (reference)').fill('cust_002');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/ref=cust_002/);
    expect(await cards.count()).toBe(1);
    const failed = page.locator('article.delivery[data-ref="CUST_002"]');
    expect(await failed.getAttribute('data-status')).toBe('failed');
    answer = 200;
    await failed.getByText('Retry now').click();
    await failed.getByRole('button', { name: 'Yes, send it again now' }).click();
    await page.getByText(/queued to be sent again now/).waitFor();
    expect(page.url()).toContain('ref=cust_002');
    await reloadUntil(page, 'article.delivery[data-ref="CUST_002"][data-status="delivered"]');
    expect(await page.locator('article.delivery').count()).toBe(1);
    expect(await page.getByText('Retry now').count()).toBe(0);
    expect(consoleErrors).toEqual([]);
    await context.close();

    // the operator: the whole submission, and a REJECT without a reason kept as it was
    const admin = await loggedIn(adminToken, 1280);
    await admin.page.goto(`${base}/dashboard/review`);
    const card = admin.page.locator('li.review[data-ref="CUST_003"]');
    const text = (await card.textContent()) ?? '';
    for (const field of [
      'Katherine Johnson',
      '1985-04-12',
      'katherine@example.com',
      '+14155552671',
      '1 Market Street',
      'San Francisco CA 94105',
      'Engineer',
      'Analytical Engines Inc',
      'USD 100,000 – USD 200,000 a year',
      'PROP_1',
      'USD 750,000.5',
    ]) {
      expect(text, field).toContain(field);
    }
    await admin.page.screenshot({ path: join(SHOTS, 'review-queue.png') });
    await card.getByLabel('Reject', { exact: true }).check();
    await card.getByLabel('Reason code (when rejecting)', { exact: true }).fill('DOCUMENTS_MISSING');
    await card.getByRole('button', { name: 'Record decision' }).click();
    const sentBack = admin.page.locator('li.review[data-ref="CUST_003"]');
    await sentBack.locator('[role="alert"]').waitFor();
    expect(await sentBack.locator('[role="alert"]').textContent()).toContain(
      'No decision recorded for CUST_003.',
    );
    expect(await sentBack.getByLabel('Reject', { exact: true }).isChecked()).toBe(true);
    expect(await sentBack.getByLabel('Reason code (when rejecting)', { exact: true }).inputValue()).toBe(
      'DOCUMENTS_MISSING',
    );

    // a customer by name
    await admin.page.goto(`${base}/dashboard/customers`);
    await admin.page.getByLabel('Name or reference').fill('hopper');
    await admin.page.getByRole('button', { name: 'Filter' }).click();
    await admin.page.waitForURL(/q=hopper/);
    expect(await admin.page.locator('tbody tr').count()).toBe(1);
    expect(await admin.page.locator('tbody').textContent()).toContain('Grace Hopper');
    await admin.context.close();

    // every page, as the operator (the widest: a partner column, the picker) and as the partner
    const pages = [
      '/dashboard/customers',
      '/dashboard/customers?q=a',
      `/dashboard/customers/${A}/CUST_002`,
      '/dashboard/review',
      '/dashboard/endpoints',
      '/dashboard/endpoints/new',
      endpointPath,
      `${endpointPath}?status=delivered`,
      '/dashboard/no-such-page',
    ];
    for (const width of [390, 1280]) {
      for (const token of [adminToken, tokenA]) {
        const who = await loggedIn(token, width);
        for (const path of pages) {
          if (path === '/dashboard/review' && token === tokenA) continue;
          await who.page.goto(`${base}${path}`);
          expect(await scrollWidth(who.page), `${path} at ${width} px`).toBeLessThanOrEqual(width);
          if (width === 390 && token === adminToken && path === '/dashboard/review') {
            await who.page.screenshot({ path: join(SHOTS, 'review-queue-phone.png'), fullPage: true });
          }
          if (width === 390 && token === tokenA && path === endpointPath) {
            await who.page.screenshot({ path: join(SHOTS, 'endpoint-manage-phone.png'), fullPage: true });
          }
        }
        await who.context.close();
      }
      const anonymous = await browser.newContext({ viewport: { width, height: 800 } });
      const login = await anonymous.newPage();
      await login.goto(`${base}/dashboard/login`);
      expect(await scrollWidth(login), `login at ${width} px`).toBeLessThanOrEqual(width);
      await anonymous.close();
    }
  }, 120_000);
});
