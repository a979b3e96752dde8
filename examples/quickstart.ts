import { createServer } from 'node:http';
import { createNodeHandler, createReceiver } from '../src/receiver/index.js'; // in your app: 'tpcs/receiver'

const receiver = createReceiver({ secrets: [process.env.WEBHOOK_SECRET ?? ''] }); // events kept in ./tpcs-inbox.db
receiver.on('APPROVED', (event) => console.log('approved', event.data.client_customer_ref));
receiver.on('REJECTED', (event) =>
  console.log('rejected', event.data.client_customer_ref, event.data.reasons),
);
createServer(createNodeHandler(receiver)).listen(Number(process.env.PORT ?? 3000));
