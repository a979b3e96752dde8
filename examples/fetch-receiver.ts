// A partner's receiver as a Fetch-API handler (Request → Response): Node, Deno, Bun, Next.js routes, Hono.
// Run on Node: WEBHOOK_SECRET=whsec_… npx tsx examples/fetch-receiver.ts
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { createFetchHandler, createReceiver } from '../src/receiver/index.js';

type OnStatus = (ref: string, status: 'APPROVED' | 'REJECTED', reasonCodes: string[]) => void;

export function createWebhookHandler(
  secret: string,
  inbox = './data/inbox.db',
  onStatus: OnStatus = console.log,
) {
  const receiver = createReceiver({ secrets: [secret], inbox });
  // Handlers run after the 200, from the inbox: retried if they throw, never twice for one event_id.
  receiver.on('APPROVED', (event) => onStatus(event.data.client_customer_ref, 'APPROVED', []));
  receiver.on('REJECTED', (event) => {
    onStatus(event.data.client_customer_ref, 'REJECTED', event.data.reasons?.map((r) => r.code) ?? []);
  });
  return { handler: createFetchHandler(receiver), receiver };
}

export function startFetchReceiver(
  secret: string,
  port = 3000,
  inbox = './data/inbox.db',
  onStatus?: OnStatus,
) {
  const { handler, receiver } = createWebhookHandler(secret, inbox, onStatus);
  // Deno: Deno.serve(handler). Bun: Bun.serve({ fetch: handler }). Node: any Fetch server, e.g.:
  const server = serve({ fetch: handler, port, overrideGlobalObjects: false });
  return { server, receiver };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) startFetchReceiver(process.env.WEBHOOK_SECRET ?? '');
