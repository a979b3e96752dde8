/**
 * The partner portal in a real browser (Debian's Chromium driven by playwright-core) against two
 * `node bin/tpcs.js serve` processes on temporary SQLite files: one with the default settings, one with
 * DASHBOARD_FRAME_ANCESTORS naming a partner's host page. The service is at http://127.0.0.1:…, the
 * host page at http://localhost:… (another site, so the frame is a third-party one; both are secure
 * contexts, so the framed service's Secure cookie is kept on plain HTTP, as browsers allow for localhost).
 *
 * A link opened directly shows the partner's customers and only those, once. In the host page's
 * iframe, a link of the framing-enabled service shows the portal and the session works inside the
 * frame (a click to another page keeps it); a link of the default service is refused by the browser
 * (frame-ancestors 'none'). The screenshot goes to a temporary folder, or to docs/screenshots/ with
 * UPDATE_SCREENSHOTS=1. Needs `npm run build` first (bin/tpcs.js runs dist/).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/http/auth.js';
import { validThirdParty } from '../customers/fixtures.js';
import { browserSkipReason, launchChromium, SHOTS } from '../support/browser.js';
import { freePort } from '../support/net.js';
import { waitFor } from '../support/wait-for.js';

const skipReason = browserSkipReason('portal browser test');

const A = '0201001008132685';
const B = '0201001008139999';

/** A `tpcs serve` process on a fresh SQLite file, and calls to its API. */
interface Service {
  base: string;
  child: ChildProcessWithoutNullStreams;
  api(method: string, path: string, token: string, body?: unknown): Promise<Record<string, unknown>>;
}

async function startServe(dir: string, adminToken: string, env: Record<string, string>): Promise<Service> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['bin/tpcs.js', 'serve'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dir, 'tpcs.db')}`,
      ADMIN_TOKEN: adminToken,
      DELIVERY_DISPATCHERS: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`serve exited:\n${output}`);
      return /listening on/.test(output);
    },
    { timeout: 45_000, what: () => `serve to start:\n${output}` },
  );
  const api: Service['api'] = async (method, path, token, body) => {
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
  return { base, child, api };
}

/** Two partners, each with third parties of its own. */
async function seed(service: Service, adminToken: string): Promise<void> {
  for (const [id, name, people] of [
    [
      A,
      'Acme Developments',
      [
        ['CUST_001', 'Ada', 'Lovelace'],
        ['CUST_002', 'Grace', 'Hopper'],
      ],
    ],
    [B, 'Bayside Title', [['BAYSIDE_9', 'Katherine', 'Johnson']]],
  ] as const) {
    const { token } = await service.api('POST', '/api/v1/admin/partners', adminToken, {
      customer_id: id,
      name,
    });
    for (const [ref, first, last] of people) {
      const body = validThirdParty(ref);
      body.client_customer_details.first_name = first;
      body.client_customer_details.last_name = last;
      body.client_customer_details.email = `${first.toLowerCase()}@example.com`;
      await service.api('POST', `/api/v1/customers/${id}/third-parties`, token as string, body);
    }
  }
}

/** A new portal link to partner A's dashboard. */
async function linkOf(service: Service, adminToken: string): Promise<string> {
  const { url } = await service.api('POST', `/api/v1/admin/partners/${A}/portal-links`, adminToken);
  expect(url).toMatch(new RegExp(`^${service.base}/dashboard/portal/[A-Za-z0-9_-]{43}$`));
  return url as string;
}

/** The frame of the host page's iframe. */
function portalFrame(page: Page): Frame {
  const frame = page.frames().find((f) => f !== page.mainFrame());
  if (!frame) throw new Error('the host page has no iframe');
  return frame;
}

describe.skipIf(skipReason !== undefined)('the partner portal in a real browser', () => {
  const dirs: string[] = [];
  const adminToken = generateToken('admin');
  let plain: Service;
  let framed: Service;
  let host: Server;
  let hostOrigin: string;
  let browser: Browser;
  /** What the host page frames, by path: `/frame?src=…` would let anything be framed; a map is enough. */
  const framedLinks = new Map<string, string>();

  beforeAll(async () => {
    // the partner's platform: a page on another site that frames a link
    host = createHttpServer((req, res) => {
      const src = framedLinks.get(req.url ?? '');
      if (!src) return res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(
          `<!doctype html><title>Partner platform</title><h1>Partner platform</h1>` +
            `<iframe src="${src}" title="Compliance" width="1100" height="640"></iframe>`,
        );
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    const address = host.address();
    hostOrigin = `http://localhost:${typeof address === 'object' && address ? address.port : 0}`;

    const dir = () => {
      const d = mkdtempSync(join(tmpdir(), 'tpcs-portal-'));
      dirs.push(d);
      return d;
    };
    [plain, framed] = await Promise.all([
      startServe(dir(), adminToken, {}),
      startServe(dir(), adminToken, { DASHBOARD_FRAME_ANCESTORS: hostOrigin }),
    ]);
    await Promise.all([seed(plain, adminToken), seed(framed, adminToken)]);

    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    for (const s of [plain, framed]) if (s && s.child.exitCode === null) s.child.kill('SIGTERM');
    await new Promise<void>((resolve) => (host ? host.close(() => resolve()) : resolve()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("opens a link directly: the partner's customers, and only once", async () => {
    const link = await linkOf(plain, adminToken);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(link);
    await page.waitForURL('**/dashboard/customers');
    const main = await page.locator('main').textContent();
    expect(main).toContain('CUST_001');
    expect(main).toContain('CUST_002');
    expect(main).not.toContain('BAYSIDE_9');
    expect(await page.getByRole('link', { name: 'Review queue' }).count()).toBe(0);

    // the same link again, even in the same browser: a clear page, 410
    const again = await page.goto(link);
    expect(again?.status()).toBe(410);
    await page.getByRole('heading', { level: 1, name: 'Link no longer valid' }).waitFor();
    expect(await page.locator('main').textContent()).toContain('has expired or has already been used');
    await context.close();
  }, 30_000);

  it('shows the portal in an iframe of the origin DASHBOARD_FRAME_ANCESTORS names; the session holds there', async () => {
    framedLinks.set('/framed', await linkOf(framed, adminToken));
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(`${hostOrigin}/framed`);
    const frame = page.frameLocator('iframe');
    await frame
      .getByRole('heading', { level: 1, name: 'Third-party customers' })
      .waitFor({ timeout: 10_000 });
    const main = await frame.locator('main').textContent();
    expect(main).toContain('CUST_001');
    expect(main).not.toContain('BAYSIDE_9');
    expect(portalFrame(page).url()).toBe(`${framed.base}/dashboard/customers`);
    await page.screenshot({ path: join(SHOTS, 'portal-iframe.png') });

    // the cookie is kept in the third-party frame: the next page inside it is still logged in
    await frame.getByRole('link', { name: 'CUST_002' }).click();
    await waitFor(() => portalFrame(page).url().endsWith(`/dashboard/customers/${A}/CUST_002`), {
      timeout: 10_000,
      what: 'the timeline inside the frame',
    });
    await frame.locator('.timeline').waitFor();
    expect(portalFrame(page).url()).not.toContain('/login');
    // (the cookie is Partitioned: context.cookies() does not list it; test/http/portal.test.ts checks it)
    expect(consoleErrors).toEqual([]);
    await context.close();
  }, 30_000);

  it("refuses the frame with the default setting (frame-ancestors 'none')", async () => {
    framedLinks.set('/default', await linkOf(plain, adminToken));
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    const refusals: string[] = [];
    page.on('console', (m) => {
      if (/frame-ancestors/.test(m.text())) refusals.push(m.text());
    });
    await page.goto(`${hostOrigin}/default`);
    await waitFor(() => refusals.length > 0, { timeout: 10_000, what: 'the browser to refuse the frame' });
    expect(refusals[0]).toMatch(/frame-ancestors 'none'.*blocked/s);
    // the frame shows the browser's error page, none of the partner's data
    const frameText = await portalFrame(page)
      .locator('body')
      .textContent()
      .catch(() => '');
    expect(frameText).not.toContain('CUST_001');
    await context.close();
  }, 30_000);
});
