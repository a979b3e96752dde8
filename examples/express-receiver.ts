// A partner's receiver in Express. Run: WEBHOOK_SECRET=whsec_… npx tsx examples/express-receiver.ts
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createExpressMiddleware, createReceiver } from '../src/receiver/index.js';

type OnStatus = (ref: string, status: 'APPROVED' | 'REJECTED', reasonCodes: string[]) => void;

export function startExpressReceiver(
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

  const app = express();
  app.post('/webhook', createExpressMiddleware(receiver)); // before express.json(): it needs the raw bytes
  app.use(express.json()); // the rest of your app
  const server = app.listen(port);
  return { server, receiver };
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  startExpressReceiver(process.env.WEBHOOK_SECRET ?? '');
