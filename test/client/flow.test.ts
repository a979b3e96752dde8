/**
 * The README's whole path ("The whole path in one terminal session") through `tpcs/client`, on each
 * database: a real running service (`startServer`: the API on a socket and the dispatcher beside it),
 * the receiver kit on a real HTTP server as the partner's endpoint. The operator creates a partner,
 * the partner subscribes the endpoint and submits a third-party customer, the operator rejects it, the
 * partner's event log and the receiver both say REJECTED; creating the partner again is a typed 409.
 *
 * Written with the generated types alone: this file holds no type assertion and no non-null
 * assertion (the last test reads the file to keep it that way), so the compiler checks every path,
 * body and answer against the service's OpenAPI document.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import thirdParty from '../../examples/third-party.json' with { type: 'json' };
import { createTpcsClient, type NewThirdPartyCustomer } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import { type RunningServer, startServer } from '../../src/http/server.js';
import {
  createMemoryInbox,
  createNodeHandler,
  createReceiver,
  type Receiver,
} from '../../src/receiver/index.js';
import { DIALECTS, type FreshDatabaseUrl, freshUrl, SECRETS_KEY, skipReason } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';

const ADMIN_TOKEN = 'dev-admin-token-0123456789';
const PARTNER = '0201001008132685';
/** The README submits examples/third-party.json; the compiler checks it against the API's schema. */
const SUBMITTED: NewThirdPartyCustomer = thirdParty;
const REF = SUBMITTED.client_customer_details.client_customer_ref;
const REASONS = [{ code: 'COMPLIANCE_CHECK_FAILED', reason: 'Compliance check failed' }];

/** An HTTP server on a free loopback port, for the receiver the partner runs once it has its secret. */
async function listening(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on a port');
  return `http://127.0.0.1:${address.port}`;
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect) !== undefined)(`tpcs/client, the README's path (${dialect})`, () => {
    let database: FreshDatabaseUrl | undefined;
    let service: RunningServer | undefined;
    let receiver: Receiver | undefined;
    const endpointServer = createServer();
    let endpointUrl = '';

    beforeAll(async () => {
      database = await freshUrl(dialect);
      const config = loadConfig({
        DATABASE_URL: database.url,
        PORT: '0',
        HOST: '127.0.0.1',
        ADMIN_TOKEN,
        ALLOW_PRIVATE_ENDPOINTS: 'true',
        RETRY_SCHEDULE: '1s',
        LOG_LEVEL: 'silent',
      });
      if (!config.ok) throw new Error(config.problems.join('\n'));
      service = await startServer(config.config, {
        print: () => {},
        ...(dialect === 'postgres' ? { secrets: { key: SECRETS_KEY } } : {}),
      });
      endpointUrl = `${await listening(endpointServer)}/webhook`;
    });

    afterAll(async () => {
      endpointServer.closeAllConnections();
      await new Promise((resolve) => endpointServer.close(resolve));
      await receiver?.close();
      await service?.close();
      await database?.drop();
    });

    it('partner, endpoint, third party, REJECTED decision: the event log and the receiver agree', async () => {
      if (service === undefined) throw new Error('the service did not start');
      const operator = createTpcsClient({ baseUrl: service.url, token: ADMIN_TOKEN });

      // operator: a partner, and its API token
      const created = await operator.POST('/api/v1/admin/partners', { body: { customer_id: PARTNER } });
      expect(created.response.status).toBe(201);
      if (created.data === undefined) throw new Error(`createPartner: ${JSON.stringify(created.error)}`);
      expect(created.data.customer_id).toBe(PARTNER);
      const partner = createTpcsClient({ baseUrl: service.url, token: created.data.token });
      const path = { customer_id: PARTNER };

      // partner: an endpoint (its signing secret is shown only now) and a receiver listening on it
      const endpoint = await partner.POST('/api/v1/customers/{customer_id}/webhooks', {
        params: { path },
        body: { url: endpointUrl, event_types: ['THIRD PARTY CUSTOMER STATUS'] },
      });
      if (endpoint.data === undefined) throw new Error(`createEndpoint: ${JSON.stringify(endpoint.error)}`);
      expect(endpoint.data.secret).toMatch(/^whsec_/);
      expect(endpoint.data.url).toBe(endpointUrl);
      const kit = createReceiver({ secrets: [endpoint.data.secret], inbox: createMemoryInbox() });
      receiver = kit;
      endpointServer.on('request', createNodeHandler(kit));

      // partner: a third-party customer, PENDING until the compliance decision
      const submitted = await partner.POST('/api/v1/customers/{customer_id}/third-parties', {
        params: { path },
        body: SUBMITTED,
      });
      expect(submitted.response.status).toBe(201);
      expect(submitted.data?.status).toBe('PENDING');

      // operator: the decision; the status change and the event commit in one transaction
      const decided = await operator.POST(
        '/api/v1/admin/customers/{customer_id}/third-parties/{client_customer_ref}/decision',
        {
          params: { path: { customer_id: PARTNER, client_customer_ref: REF } },
          body: { status: 'REJECTED', reasons: REASONS },
        },
      );
      if (decided.data === undefined) throw new Error(`decision: ${JSON.stringify(decided.error)}`);
      expect(decided.data.third_party.status).toBe('REJECTED');
      const eventId = decided.data.event?.event_id;
      expect(eventId).toEqual(expect.any(String));

      // the partner's event log, and the status the receiver now holds
      const events = await partner.GET('/api/v1/customers/{customer_id}/events', { params: { path } });
      if (events.data === undefined) throw new Error(`listEvents: ${JSON.stringify(events.error)}`);
      const [latest] = events.data.events;
      expect(latest?.event_id).toBe(eventId);
      expect(latest?.data.status).toBe('REJECTED');
      expect(latest?.data.reasons).toEqual(REASONS);

      const held = await waitFor(() => kit.inbox.getStatus(PARTNER, REF), {
        timeout: 20_000,
        what: `the receiver's status of ${REF}`,
      });
      expect(held).toMatchObject({ status: 'REJECTED', eventId, reasons: REASONS });
    });

    it('a refusal is a typed error body: creating the same partner again is 409 conflict', async () => {
      if (service === undefined) throw new Error('the service did not start');
      const operator = createTpcsClient({ baseUrl: service.url, token: ADMIN_TOKEN });
      const again = await operator.POST('/api/v1/admin/partners', { body: { customer_id: PARTNER } });
      expect(again.response.status).toBe(409);
      expect(again.data).toBeUndefined();
      expect(again.error?.error.code).toBe('conflict');
      expect(again.error?.error.message).toEqual(expect.any(String));

      const anonymous = createTpcsClient({ baseUrl: service.url });
      const refused = await anonymous.GET('/api/v1/customers/{customer_id}/events', {
        params: { path: { customer_id: PARTNER } },
      });
      expect([refused.response.status, refused.error?.error.code]).toEqual([401, 'unauthorized']);
    });
  });
}

describe('this file', () => {
  it('holds no type assertion and no non-null assertion', () => {
    // Read by the compiler's own parser: comments and strings may say anything, the code may not assert.
    const path = fileURLToPath(import.meta.url);
    const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
    const assertions: string[] = [];
    const visit = (node: ts.Node): void => {
      if (ts.isAsExpression(node) || ts.isTypeAssertionExpression(node) || ts.isNonNullExpression(node)) {
        const { line } = file.getLineAndCharacterOfPosition(node.getStart());
        assertions.push(`line ${line + 1}: ${node.getText()}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
    expect(assertions).toEqual([]);
    expect(file.getText()).toContain('createTpcsClient(');
  });
});
