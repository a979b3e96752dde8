/**
 * `kill -9` of `tpcs serve` in the middle of a steady load of decisions, with a real endpoint
 * subscribed, on a SQLite file and on PostgreSQL: the service is killed twice at a random moment and
 * started again on the same database. Every decision answered 2xx has its event in the event list,
 * and every listed event (those of decisions cut off before their answer included) reaches the
 * endpoint at least once; the duplicates (sent again after a kill, before the attempt was recorded)
 * are counted. Needs `npm run build`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type Sink, startSink } from '../dispatcher/sink.js';
import { DIALECTS, type FreshDatabaseUrl, freshUrl, skipReason } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';
import {
  type HttpClient,
  httpClient,
  type Load,
  listedEventIds,
  type Serve,
  setUpPartner,
  startLoad,
  startServe,
} from './support.js';

const KILLS = 2;

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`kill -9 of tpcs serve on ${dialect}`, () => {
    let db: FreshDatabaseUrl | undefined;
    let sink: Sink | undefined;
    let serve: Serve | undefined;
    let client: HttpClient | undefined;
    let load: Load | undefined;
    afterEach(async () => {
      await load?.stop();
      await serve?.kill();
      await client?.close();
      await sink?.close();
      await db?.drop();
    });

    it(`keeps every acknowledged event and delivers every event through ${KILLS} SIGKILLs`, {
      timeout: 150_000,
    }, async () => {
      db = await freshUrl(dialect);
      sink = await startSink();
      serve = await startServe({ DATABASE_URL: db.url });
      client = httpClient(10_000);
      const partner = await setUpPartner(client, serve.base, { count: 100, hookUrl: sink.url('/hook') });
      load = startLoad(client, serve.base, partner);
      for (let kill = 0; kill < KILLS; kill++) {
        await load.moreOk(40);
        await sleep(Math.random() * 100);
        await serve.kill();
        await serve.restart();
      }
      await load.moreOk(40);
      const counts = await load.stop();

      const listed = await listedEventIds(client, serve.base, partner.customerId, partner.token);
      expect(load.acknowledged.filter((id) => !listed.has(id))).toEqual([]);
      const delivered = () => new Set(sink?.received.map((r) => String(r.headers['webhook-id'])));
      await waitFor(() => [...listed].every((id) => delivered().has(id)), {
        timeout: 30_000,
        what: () => `delivery of ${[...listed].filter((id) => !delivered().has(id)).length} events`,
      });
      const receipts = sink.received.length;
      console.log(
        `${dialect}, ${KILLS} kill -9: decisions ${JSON.stringify(counts)}; events acknowledged ` +
          `${load.acknowledged.length}, listed ${listed.size} (${listed.size - load.acknowledged.length} ` +
          `of decisions cut off before their answer), deliveries received ${receipts} ` +
          `(${receipts - delivered().size} duplicates)`,
      );
      // while it was down, requests found no one (noAnswer); every answer was one the service promises
      expect(load.unexpected).toEqual([]);
      expect(counts).toMatchObject({ other: 0, timedOut: 0 });
    });
  });
}
