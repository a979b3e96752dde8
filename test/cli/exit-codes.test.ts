/**
 * One exit-code rule for every command (src/cli/options.ts, EXIT): 2 for a usage error (an unknown
 * flag, a wrong value) with nothing attempted, 1 for a failed operation (here: the service, the
 * receiver or the database cannot be reached, or a server cannot start) said in one line at once,
 * never a stack trace. Each command is run as a real process (`npm run build`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/config/index.js';
import { freePort, localServer, type Run, tpcs } from './processes.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const KEY = randomBytes(32).toString('base64');
const UUID = '3f6c2a9e-8b1d-4e7a-9c52-1d0b7e4f6a83';
const PARTNER = ['--customer-id', '0201001008132685', '--token', 'tpcs_pk_x'];
const ADMIN = ['--admin-token', 'test-admin-token-0123456789'];
const firstLine = (text: string) => text.split('\n')[0] ?? '';
const STACK = /^\s+at .+[:(]\d+/m;

/** A wrong value for each command: the arguments, and the flag or variable the error must name. */
const WRONG_VALUES: Record<(typeof COMMANDS)[number], { args: string[]; names: string }> = {
  serve: { args: ['--port', 'eighty'], names: "--port 'eighty'" },
  worker: { args: ['--dispatchers', '0'], names: "--dispatchers '0'" },
  migrate: { args: ['--database-url', 'foo'], names: "--database-url 'foo'" },
  receive: { args: ['--port', 'x', '--secret', SECRET], names: "--port 'x'" },
  trigger: { args: ['--url', 'ftp://x', '--secret', SECRET], names: "--url 'ftp://x'" },
  verify: { args: ['--secret', SECRET, '--now', 'soon'], names: "--now 'soon'" },
  conformance: {
    args: ['--url', 'http://127.0.0.1:1/w', '--secret', SECRET, '--timeout', '0'],
    names: "--timeout '0'",
  },
  listen: { args: ['--forward-to', 'nope', ...PARTNER], names: "--forward-to 'nope'" },
  replay: { args: ['--webhook', UUID, '--delivery', 'dl_1', ...PARTNER], names: "--delivery 'dl_1'" },
  recover: { args: ['--webhook', UUID, '--since', 'lately', ...PARTNER], names: "--since 'lately'" },
  'partners create': { args: ['--customer-id', 'P1', '--api', 'nope', ...ADMIN], names: "--api 'nope'" },
  'tokens reset': {
    args: ['--customer-id', 'P1', '--admin-token', 'short'],
    names: '--admin-token (5 characters',
  },
  decisions: { args: ['--batch-size', '1001', ...ADMIN], names: "--batch-size '1001'" },
  'endpoints list': { args: ['--api', 'nope', ...PARTNER], names: "--api 'nope'" },
  'endpoints create': { args: ['--url', 'ftp://x', ...PARTNER], names: "--url 'ftp://x'" },
  'endpoints update': {
    args: ['--webhook', UUID, '--rate-limit', '0', ...PARTNER],
    names: "--rate-limit '0'",
  },
  'endpoints rotate-secret': { args: ['--webhook', 'wh_1', ...PARTNER], names: "--webhook 'wh_1'" },
  'secrets rotate-key': { args: ['--database-url', 'mysql://x'], names: "--database-url 'mysql://x'" },
};

describe('exit codes of every command', () => {
  const runs: Promise<Run>[] = [];
  afterAll(async () => {
    // whatever happened, nothing printed a stack trace
    for (const run of await Promise.all(runs)) expect(`${run.stdout}${run.stderr}`).not.toMatch(STACK);
  });
  const run = (args: string[], input?: string) => {
    const started = tpcs(args, input === undefined ? {} : { input });
    runs.push(started);
    return started;
  };

  it.concurrent.for([...COMMANDS, 'tokens admin'])(
    '%s: an unknown flag is a usage error (2)',
    async (command, { expect }) => {
      const result = await run([...command.split(' '), '--bogus']);
      expect({ code: result.code, line: firstLine(result.stderr) }).toEqual({
        code: 2,
        line: "error: unknown option '--bogus'",
      });
    },
  );

  it.concurrent.for(COMMANDS)(
    '%s: a wrong value is a usage error (2) naming the flag',
    async (command, { expect }) => {
      const { args, names } = WRONG_VALUES[command];
      const result = await run([...command.split(' '), ...args]);
      expect(result.code, result.stderr).toBe(2);
      expect(firstLine(result.stderr)).toMatch(
        new RegExp(`^tpcs ${command}: error: ${escapeRegExp(names)}.* is invalid`),
      );
    },
  );

  it('worker: --dispatchers abc and 0 are usage errors too', async () => {
    for (const value of ['abc', '0']) {
      const result = await run(['worker', '--dispatchers', value]);
      expect([result.code, firstLine(result.stderr)]).toEqual([
        2,
        `tpcs worker: error: --dispatchers '${value}' is invalid (env WORKER_DISPATCHERS): expected an integer from 1 to 64`,
      ]);
    }
  });

  it('endpoints create and update: --rate-limit takes 1 to 10000 or none, and update needs a change', async () => {
    const url = ['--url', 'https://example.com/w'];
    const wrong = await Promise.all(
      ['abc', '0', '-5', '2.5', '10001'].flatMap((value) => [
        run(['endpoints', 'create', ...url, '--rate-limit', value, ...PARTNER]),
        run(['endpoints', 'update', '--webhook', UUID, '--rate-limit', value, ...PARTNER]),
      ]),
    );
    for (const result of wrong) {
      expect(result.code, result.stderr).toBe(2);
      expect(firstLine(result.stderr)).toMatch(
        /^tpcs endpoints (create|update): error: --rate-limit '.+' is invalid: expected a whole number of deliveries per second from 1 to 10000, or none$/,
      );
    }
    const nothing = await run(['endpoints', 'update', '--webhook', UUID, ...PARTNER]);
    expect([nothing.code, firstLine(nothing.stderr)]).toEqual([
      2,
      'tpcs endpoints update: error: nothing to change: give --url, --description or --rate-limit',
    ]);
  });

  describe('with nothing there to reach', () => {
    let closed: number;
    let busy: Awaited<ReturnType<typeof localServer>>;
    beforeAll(async () => {
      closed = await freePort();
      busy = await localServer();
    });
    afterAll(() => busy.close());

    /** Every command that reaches something, pointed at a port where nothing listens. */
    const cases = (): [string, string[], RegExp][] => {
      const api = `http://127.0.0.1:${closed}`;
      const postgres = `postgres://tpcs@127.0.0.1:${closed}/tpcs`;
      const busyPort = new URL(busy.url).port;
      return [
        [
          'serve',
          ['serve', '--port', '0', '--database-url', postgres, '--secrets-key', KEY],
          /^tpcs serve: (could not start|cannot reach the database): .*ECONNREFUSED/,
        ],
        [
          'worker',
          ['worker', '--database-url', postgres, '--secrets-key', KEY],
          /^tpcs worker: cannot reach the database: .*ECONNREFUSED/,
        ],
        [
          'migrate',
          ['migrate', '--database-url', postgres],
          /^tpcs migrate: cannot reach the database: PostgreSQL 127\.0\.0\.1:\d+\/tpcs: .*ECONNREFUSED/,
        ],
        [
          'secrets rotate-key',
          ['secrets', 'rotate-key', '--database-url', postgres, '--secrets-key', KEY],
          /^tpcs secrets rotate-key: cannot reach the database: .*ECONNREFUSED/,
        ],
        [
          'receive (port in use)',
          [
            'receive',
            '--port',
            busyPort,
            '--secret',
            SECRET,
            '--db',
            join(mkdtempSync(join(tmpdir(), 'tpcs-exit-')), 'r.db'),
          ],
          /^tpcs receive: could not start: .*EADDRINUSE/,
        ],
        [
          'trigger',
          ['trigger', '--url', `${api}/webhook`, '--secret', SECRET],
          /^tpcs trigger: cannot reach the receiver at .*ECONNREFUSED/,
        ],
        [
          'conformance',
          ['conformance', '--url', `${api}/webhook`, '--secret', SECRET],
          /^tpcs conformance: cannot reach the receiver at .*ECONNREFUSED/,
        ],
        [
          'listen',
          ['listen', '--forward-to', 'http://127.0.0.1:3000/webhook', '--api', api, ...PARTNER],
          /^tpcs listen: cannot reach the service at .*ECONNREFUSED/,
        ],
        [
          'replay',
          ['replay', '--webhook', UUID, '--delivery', UUID, '--api', api, ...PARTNER],
          /^tpcs replay: cannot reach the service at .*ECONNREFUSED/,
        ],
        [
          'recover',
          ['recover', '--webhook', UUID, '--since', '1h', '--api', api, ...PARTNER],
          /^tpcs recover: cannot reach the service at .*ECONNREFUSED/,
        ],
        [
          'partners create',
          ['partners', 'create', '--customer-id', 'P1', '--api', api, ...ADMIN],
          /^tpcs partners create: cannot reach the service at .*ECONNREFUSED/,
        ],
        [
          'tokens reset',
          ['tokens', 'reset', '--customer-id', 'P1', '--api', api, ...ADMIN],
          /^tpcs tokens reset: cannot reach the service at .*ECONNREFUSED/,
        ],
        [
          'endpoints list',
          ['endpoints', 'list', '--api', api, ...PARTNER],
          /^tpcs endpoints list: cannot reach the service at .*ECONNREFUSED/,
        ],
        [
          'endpoints create',
          ['endpoints', 'create', '--url', 'https://example.com/w', '--api', api, ...PARTNER],
          /^tpcs endpoints create: cannot reach the service at .*ECONNREFUSED/,
        ],
        [
          'endpoints update',
          ['endpoints', 'update', '--webhook', UUID, '--rate-limit', 'none', '--api', api, ...PARTNER],
          /^tpcs endpoints update: cannot reach the service at .*ECONNREFUSED/,
        ],
        [
          'endpoints rotate-secret',
          ['endpoints', 'rotate-secret', '--webhook', UUID, '--api', api, ...PARTNER],
          /^tpcs endpoints rotate-secret: cannot reach the service at .*ECONNREFUSED/,
        ],
      ];
    };

    it('fails (1) at once, saying so in its first line', async () => {
      const all = cases();
      const results = await Promise.all(all.map(([, args]) => run(args)));
      for (const [i, [name, , line]] of all.entries()) {
        const result = results[i] as Run;
        expect({ name, code: result.code, line: firstLine(result.stderr) }).toEqual({
          name,
          code: 1,
          line: expect.stringMatching(line),
        });
      }
      // conformance stopped there: not 27 checks failing one by one
      const conformance = results[all.findIndex(([name]) => name === 'conformance')] as Run;
      expect(conformance.stdout).toBe('');
    });
  });

  it('verify: a request that does not verify fails (1), saying why in one line', async () => {
    const raw =
      'POST /webhook HTTP/1.1\nwebhook-id: x\nwebhook-timestamp: 1\nwebhook-signature: v1,AAAA\n\n{}';
    const result = await run(['verify', '--secret', SECRET], raw);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^tpcs verify: the signature is invalid \(\w+\), and the payload does not conform to the contract\n$/,
    );
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
