// A partner's receiver in Fastify. Run: WEBHOOK_SECRET=whsec_… npx tsx examples/fastify-receiver.ts
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { createReceiver, fastifyReceiver } from '../src/receiver/index.js';

type OnStatus = (ref: string, status: 'APPROVED' | 'REJECTED', reasonCodes: string[]) => void;

export async function startFastifyReceiver(
  secret: string,
  port = 3000,
  inbox = './data/inbox.db',
  onStatus: OnStatus = console.log,
) {
  const receiver = createReceiver({ secrets: [secret], inbox });
  // Handlers run after the 200, from the inbox: retried if they throw, never twice for one event_id.
  receiver.on('APPROVED', (event) => onStatus(event.data.client_customer_ref, 'APPROVED', []));
  receiver.on('REJECTED', (event) => {
    onStatus(event.data.client_customer_ref, 'REJECTED', event.data.reasons?.map((r) => r.code) ?? []);
  });

  const app = Fastify();
  // The plugin keeps the raw body (signature) in its own scope; your other routes still parse JSON.
  await app.register(fastifyReceiver, { receiver, path: '/webhook' });
  app.addHook('onClose', () => receiver.close());
  await app.listen({ port, host: '127.0.0.1' });
  return { app, receiver };
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  await startFastifyReceiver(process.env.WEBHOOK_SECRET ?? '');
