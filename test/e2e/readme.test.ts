/**
 * The README's commands, run as a newcomer would run them: every block marked
 * `<!-- readme-test: NAME -->` is checked here. Only ports and the data folder are swapped for
 * free ones, so the test never touches ./data or port 8080.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIsFresh } from '../support/build.js';
import { freePort } from '../support/net.js';
import { waitFor } from '../support/wait-for.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The code block that follows `<!-- readme-test: name -->`. */
function block(name: string): string {
  const match = new RegExp(`<!-- readme-test: ${name} -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (!match?.[1]) throw new Error(`README has no block marked readme-test: ${name}`);
  return match[1];
}

describe('README', () => {
  it('opens with the two commands a newcomer runs', () => {
    const firstScreen = README.split('\n').slice(0, 25).join('\n');
    expect(block('start')).toContain('npm ci && npm start');
    expect(firstScreen).toContain('npm test');
  });

  it('shows the quickstart receiver exactly as examples/quickstart.ts has it (run by test/examples)', () => {
    const example = readFileSync(new URL('../../examples/quickstart.ts', import.meta.url), 'utf8');
    const asPublished = example.replace(
      "from '../src/receiver/index.js'; // in your app: 'tpcs/receiver'",
      "from 'tpcs/receiver';",
    );
    expect(block('quickstart').trim()).toBe(asPublished.trim());
    expect(block('quickstart').split('\n').length).toBeLessThanOrEqual(10);
  });

  describe('the whole path in one terminal session', () => {
    let dir: string;
    let apiPort: number;
    let service: ChildProcess;

    beforeAll(async () => {
      // what `npm ci` builds (its prepare script); `npm test` has built it already
      if (!buildIsFresh()) execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
      dir = mkdtempSync(join(tmpdir(), 'tpcs-readme-'));
      apiPort = await freePort();
      // `npm start` as written, in its own process group so npm and node stop together.
      service = spawn('bash', ['-c', block('serve')], {
        env: { ...process.env, PORT: String(apiPort), DATABASE_URL: `sqlite:${join(dir, 'tpcs.db')}` },
        stdio: 'ignore',
        detached: true,
      });
      const health = `http://127.0.0.1:${apiPort}/healthz`;
      await waitFor(async () => (await fetch(health)).ok, { timeout: 30_000, interval: 100, what: health });
    }, 120_000);

    afterAll(() => {
      if (service.pid) process.kill(-service.pid, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    });

    /** Runs the walkthrough and the daily tools as one bash -e session; returns both parts' output. */
    // The same ports each run, as on a developer's machine: the endpoint's URL is the same one.
    let receiverPort: number;
    let playPort: number;
    let alertsPort: number;
    let downPort: number;
    type Session = { walkthrough: string; tools: string; portal: string; alerts: string };
    async function session(run: number): Promise<Session> {
      receiverPort ??= await freePort();
      playPort ??= await freePort();
      alertsPort ??= await freePort();
      downPort ??= await freePort(); // nothing listens there: the endpoint that is down
      const parts = ['walkthrough', 'tools', 'portal', 'alerts'] as const;
      const script = parts
        .map((name) => `echo; echo '--- ${name}'\n${block(name)}`) // a block may end without a newline
        .join('\n')
        .replaceAll('localhost:8080', `localhost:${apiPort}`)
        .replaceAll('127.0.0.1:4000', `127.0.0.1:${receiverPort}`)
        .replaceAll('--port 4000', `--port ${receiverPort}`)
        .replaceAll('127.0.0.1:3000', `127.0.0.1:${playPort}`)
        .replaceAll('--port 3000', `--port ${playPort}`)
        .replaceAll('127.0.0.1:4100', `127.0.0.1:${alertsPort}`)
        .replaceAll('PORT=4100', `PORT=${alertsPort}`)
        .replaceAll('127.0.0.1:4001', `127.0.0.1:${downPort}`)
        .replaceAll('./data/', `${dir}/`);
      // Output goes to a file, not a pipe: the script's background processes must not hold the test up.
      const outFile = join(dir, `session-${run}.out`);
      const out = openSync(outFile, 'w');
      // From a file, not `bash -c`: the README's `pkill -f` patterns must not match this shell's own command line.
      const scriptFile = join(dir, `session-${run}.sh`);
      writeFileSync(scriptFile, script);
      try {
        execFileSync('bash', ['-e', '-o', 'pipefail', scriptFile], {
          stdio: ['ignore', out, out],
          timeout: 240_000,
        });
      } catch (e) {
        // what the blocks' background processes wrote, to see which one the session waited for
        const logs = ['listen.log', 'play.log', 'receiver.log', 'alerts.log']
          .map((name) => {
            try {
              return `--- ${name}\n${readFileSync(join(dir, name), 'utf8').slice(-2000)}`;
            } catch {
              return `--- ${name}: none`;
            }
          })
          .join('\n');
        throw new Error(
          `the README session (run ${run}) failed: ${(e as Error).message}\n${readFileSync(outFile, 'utf8')}\n${logs}`,
        );
      } finally {
        closeSync(out);
      }
      const printed: Record<string, string> = {};
      for (const piece of readFileSync(outFile, 'utf8').split(/^--- /m).slice(1)) {
        const newline = piece.indexOf('\n');
        printed[piece.slice(0, newline)] = piece.slice(newline + 1);
      }
      return { walkthrough: '', tools: '', portal: '', alerts: '', ...printed };
    }

    /** `event`: the decision made an event (its id printed), or found the status REJECTED already. */
    function expectDelivered(walkthrough: string, decision: 'event' | 'already REJECTED') {
      const lines = walkthrough.trim().split('\n');
      if (decision === 'event') {
        expect(
          lines.some((l) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(l)),
        ).toBe(true);
      } else {
        expect(lines).toContain('no event: the status was already REJECTED');
      }
      expect(lines).toContain('REJECTED');
      const status = JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
      expect(status).toMatchObject({
        customer_id: '0201001008132685',
        client_customer_ref: 'CUST_001',
        status: 'REJECTED',
      });
    }

    function expectTools(tools: string) {
      // trigger got a 200, conformance passed everything, listen forwarded the APPROVED event
      expect(tools).toMatch(/← 200/);
      expect(tools).toMatch(/\b(\d+) passed, 0 warnings, 0 failed of \1 checks/);
      expect(tools).toMatch(/Ready!/);
      expect(tools).toMatch(/APPROVED\s+0201001008132685\/CUST_001\s+→ 200/);
    }

    /** The portal link printed opens the partner's dashboard once, then is used up. */
    async function expectPortal(portal: string) {
      const url = portal.trim().split('\n').at(-1) ?? '';
      expect(url).toMatch(new RegExp(`^http://localhost:${apiPort}/dashboard/portal/[A-Za-z0-9_-]+$`));
      // fresh connections: the session ran in execFileSync, which blocked this event loop for minutes, so
      // a kept-alive socket from before may have been closed by the server without this process
      // noticing yet ("other side closed" on its reuse)
      const fresh = new Agent({ pipelining: 0 });
      try {
        const opened = await undiciFetch(url, { redirect: 'manual', dispatcher: fresh });
        expect(opened.status).toBe(303);
        expect(opened.headers.get('set-cookie')).toBeTruthy();
        const again = await undiciFetch(url, { redirect: 'manual', dispatcher: fresh });
        expect(again.status).toBe(410);
      } finally {
        await fresh.close();
      }
    }

    function expectAlert(alerts: string) {
      expect(alerts.trim().split('\n')).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^endpoint\\.failing http://127\\.0\\.0\\.1:${downPort}/down \\(endpoint [0-9a-f-]{36}\\)$`,
          ),
        ),
      );
    }

    it('creates a partner, an endpoint and a customer, decides, and the receiver holds the status; then the daily tools, a portal link and an alert; and all of it again', async () => {
      const first = await session(1);
      expect(first.walkthrough.trim().split('\n')).toContain('PENDING');
      expect(first.walkthrough).not.toMatch(/exists already|already has the URL|error:/);
      expectDelivered(first.walkthrough, 'event');
      expectTools(first.tools);
      await expectPortal(first.portal);
      expectAlert(first.alerts);

      // The same session a second time, on the same service and data: it says what exists and goes on.
      const second = await session(2);
      expect(second.walkthrough).toMatch(/^Partner 0201001008132685 exists already: replacing its token/m);
      expect(second.walkthrough).toMatch(
        /^Endpoint [0-9a-f-]{36} already has the URL .*: rotating its signing secret/m,
      );
      expect(second.walkthrough).toMatch(
        /^error: A third party customer with client_customer_ref CUST_001 already exists$/m,
      );
      expect(second.walkthrough).not.toMatch(/^\s+at /m); // no stack trace
      // the alerts' decision left CUST_001 REJECTED, as the README says
      expectDelivered(second.walkthrough, 'already REJECTED');
      expectTools(second.tools);
      await expectPortal(second.portal);
      expectAlert(second.alerts);
    }, 540_000);

    it('the typed client example, as README shows it, lists the partner events', () => {
      const example = readFileSync(new URL('../../examples/api-client.ts', import.meta.url), 'utf8');
      const asPublished = example.replace(
        "from '../src/client/index.js'; // in your app: 'tpcs/client'",
        "from 'tpcs/client';",
      );
      expect(block('client').trim()).toBe(asPublished.trim());
      // run as a partner would run it (the admin token also reads a partner's events)
      const out = execFileSync('npx', ['tsx', 'examples/api-client.ts'], {
        env: {
          ...process.env,
          TPCS_API: `http://127.0.0.1:${apiPort}`,
          TPCS_TOKEN: 'dev-admin-token-0123456789',
          TPCS_CUSTOMER_ID: '0201001008132685',
        },
        encoding: 'utf8',
      });
      const lines = out.trim().split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(2);
      for (const line of lines) expect(line).toMatch(/^[0-9a-f-]{36} CUST_001 (APPROVED|REJECTED)$/);
    }, 120_000);
  });
});
