/**
 * Ids made in this process: random bits drawn in bulk, and delivery ids that sort by time.
 */
import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

// Random bits drawn from the system 4 KiB at a time (as `crypto.randomUUID` does): `uuid` asks for
// 16 bytes per id, one `getrandom` system call each, 7 % of a decision's CPU in a batch on SQLite.
// `uuidv7` reads the bytes before it returns, so each slice is used once.
const entropy = Buffer.alloc(4096);
let entropyUsed = entropy.length;

/** 16 random bytes, valid until the next call. */
export function randomBytes16(): Uint8Array {
  if (entropyUsed === entropy.length) {
    randomFillSync(entropy);
    entropyUsed = 0;
  }
  entropyUsed += 16;
  return entropy.subarray(entropyUsed - 16, entropyUsed);
}

/**
 * A new delivery's id: a UUIDv7, so that the indexes keyed by it (the deliveries' own, the attempts'
 * and the leases') take the deliveries written together on the same few pages, at their right-hand
 * end, instead of one random page each (PostgreSQL: `tpcs_uuid7()`, migration 025).
 *
 * @example
 * newDeliveryId(); // '019ad1c3-5e2a-7…'
 */
export function newDeliveryId(): string {
  return uuidv7({ random: randomBytes16() });
}
