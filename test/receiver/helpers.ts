import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildEvent, type CustomerStatus, type Reason } from '../../src/contract/index.js';
import type { ReceiverLogger } from '../../src/receiver/index.js';
import { generateSecret, signWebhook } from '../../src/signing/index.js';

export const SECRET = generateSecret();
export const OTHER_SECRET = generateSecret();

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tpcs-receiver-'));
}

export const REASONS: Reason[] = [
  {
    code: 'COMPLIANCE_CHECK_FAILED',
    reason: 'Compliance check failed due to validation or regulatory issues',
  },
];

let counter = 0;

/** A seed-shaped event as JSON text; every call gets a fresh event_id unless one is given. */
export function eventJson(
  overrides: {
    eventId?: string;
    status?: CustomerStatus;
    at?: string;
    customerId?: string;
    ref?: string;
  } = {},
): { eventId: string; json: string } {
  const status = overrides.status ?? 'REJECTED';
  const { event, json } = buildEvent({
    // Zero-padded, so ids made later also sort later (nothing relies on it since ties go to the
    // later arrival, but it keeps listings readable).
    eventId: overrides.eventId ?? `evt_${process.pid}_${String(++counter).padStart(8, '0')}`,
    timestamp: new Date(overrides.at ?? '2025-01-01T00:00:00Z'),
    customerId: overrides.customerId ?? '0201001008132685',
    clientCustomerRef: overrides.ref ?? 'CUST_001',
    status,
    ...(status === 'REJECTED' ? { reasons: REASONS } : {}),
  });
  return { eventId: event.event_id, json };
}

/** Headers a platform would send with `body`, signed now with `secrets`. */
export function signedHeaders(
  id: string,
  body: string | Uint8Array,
  secrets: readonly string[] = [SECRET],
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return { 'content-type': 'application/json', ...signWebhook({ id, timestamp, body, secrets }) };
}

/** A signed POST for the core: `receiver.handle(signedRequest(...))`. */
export function signedRequest(
  overrides: Parameters<typeof eventJson>[0] = {},
  secrets: readonly string[] = [SECRET],
) {
  const { eventId, json } = eventJson(overrides);
  return {
    eventId,
    method: 'POST',
    headers: signedHeaders(eventId, json, secrets),
    body: new TextEncoder().encode(json),
  };
}

/** Collects log calls so tests can assert what was said. */
export function recordingLogger(): ReceiverLogger & {
  lines: { level: string; message: string; fields: object }[];
} {
  const lines: { level: string; message: string; fields: object }[] = [];
  const at = (level: string) => (fields: object, message: string) => {
    lines.push({ level, message, fields });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** Every JSON body the receiver answers with, as one loose shape for assertions. */
export interface AnswerBody {
  received?: boolean;
  event_id?: string;
  outcome?: string;
  error: {
    code: string;
    message: string;
    details?: { problems?: { path: string; message: string }[]; reason?: string; limit_bytes?: number };
  };
}

export const answer = (text: string): AnswerBody => JSON.parse(text) as AnswerBody;
