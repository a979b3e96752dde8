// A partner's receiver as a Cloudflare Worker, from the web entry: nothing from Node, Web Crypto for
// the signature. Bundle it with `esbuild examples/worker-receiver.ts --bundle --format=esm
// --platform=neutral` (what test/examples/worker-receiver.test.ts does before serving it from workerd).
import {
  createFetchHandler,
  createMemoryInbox,
  createReceiver,
  type Receiver,
} from '../src/receiver/web/index.js'; // in your app: 'tpcs/receiver/web'

interface Env {
  WEBHOOK_SECRET: string;
}

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

let receiver: Receiver | undefined;
let handle: ((request: Request) => Promise<Response>) | undefined;

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    if (!receiver || !handle) {
      // Made on the first request: Workers allow no timers at startup. A memory inbox keeps this
      // example self-contained; a real Worker passes an InboxStore over D1 or a Durable Object.
      receiver = createReceiver({ secrets: [env.WEBHOOK_SECRET], inbox: createMemoryInbox() });
      receiver.on('APPROVED', (event) => console.log('approved', event.data.client_customer_ref));
      receiver.on('REJECTED', (event) => {
        const codes = event.data.reasons?.map((r) => r.code) ?? [];
        console.log('rejected', event.data.client_customer_ref, codes.join(','));
      });
      handle = createFetchHandler(receiver);
    }
    const response = await handle(request);
    // Handlers run after the answer: keep the Worker alive until they have.
    ctx.waitUntil(receiver.drain());
    return response;
  },
};
