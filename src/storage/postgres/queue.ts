import type { DeliveryQueue } from '../queue.js';

/** Placeholder until the PostgreSQL store's tables land. */
export async function openPostgresDeliveryQueue(
  _url: string,
): Promise<DeliveryQueue & { close(): Promise<void> }> {
  throw new Error('The PostgreSQL delivery queue is not built yet; use DATABASE_URL=sqlite:PATH');
}
