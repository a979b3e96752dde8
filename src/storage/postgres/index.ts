import type { Store } from '../store.js';

/** Placeholder until the PostgreSQL adapter lands (next commit). */
export async function createPostgresStore(_url: string): Promise<Store> {
  throw new Error('The PostgreSQL store is not built yet; use DATABASE_URL=sqlite:PATH');
}
