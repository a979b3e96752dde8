/** Events as partners read them back: the envelope exactly as it was (or will be) delivered. */

import type { z } from 'zod';
import type { StoredEvent } from '../storage/store.js';
import type { eventViewSchema } from './schema.js';

/** The delivered envelope of a stored event, parsed from its exact JSON text. */
export function toEventView(e: StoredEvent): z.output<typeof eventViewSchema> {
  return JSON.parse(e.payload) as z.output<typeof eventViewSchema>;
}

/** True when `id` has the shape of an event id (a UUID); anything else cannot exist. */
export function isEventId(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
