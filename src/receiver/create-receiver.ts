import { createVerifier } from '../signing/verify.js';
import { createReceiverCore, type Receiver, type ReceiverOptions } from './core/receiver.js';
import { signatureCheckFor } from './core/verification.js';
import { createSqliteInbox } from './inbox/sqlite.js';
import type { InboxStore } from './inbox/store.js';

/** Where the Node entry's receiver keeps its events when no inbox is given. */
export const DEFAULT_INBOX_FILE = './tpcs-inbox.db';

export interface NodeReceiverOptions extends Omit<ReceiverOptions, 'inbox'> {
  /**
   * Where events are recorded before the 200: a store, or a SQLite file path (`createSqliteInbox` with
   * its defaults; pass `createSqliteInbox(file, { synchronous: 'FULL' })` for a 200 that survives power
   * loss too). Default `./tpcs-inbox.db`. A file opened from a path is closed by `receiver.close()`.
   */
  inbox?: InboxStore | string;
}

/**
 * Creates a receiver on Node: verify (node:crypto), validate, record durably (SQLite by default),
 * answer, then hand typed events to handlers.
 *
 * @example
 * ```ts
 * const receiver = createReceiver({ secrets: [process.env.WEBHOOK_SECRET!], inbox: './data/inbox.db' });
 * receiver.on('REJECTED', (event) => console.log(event.data.client_customer_ref, event.data.reasons));
 * http.createServer(createNodeHandler(receiver)).listen(3000);
 * ```
 */
export function createReceiver(options: NodeReceiverOptions = {}): Receiver {
  // Before the inbox is opened: a bad secret must not leave a file (and its checkpointer thread) open.
  const verify = signatureCheckFor(options, createVerifier);
  if (typeof options.inbox === 'object')
    return createReceiverCore({ ...options, inbox: options.inbox }, verify);
  const inbox = createSqliteInbox(
    options.inbox ?? DEFAULT_INBOX_FILE,
    options.logger ? { logger: options.logger } : {},
  );
  const receiver = createReceiverCore({ ...options, inbox }, verify);
  return {
    ...receiver,
    async close() {
      await receiver.close();
      await inbox.close();
    },
  };
}
