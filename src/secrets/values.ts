/**
 * The text forms of the key settings (`SECRETS_KEY`, `SECRETS_OLD_KEYS`), as the settings table reads
 * them: checked at start, so a truncated key is a usage error naming the setting, never a start that
 * fails later. The value stays text (the storage derives the keys); the message never repeats it.
 */
import { z } from 'zod';
import { keyBytes } from './keys.js';

const EXPECTED =
  'expected 32 bytes written as base64 (44 characters) or hex (64); make one with: openssl rand -base64 32';

/** One key. */
export const secretsKeyText = z
  .string()
  .trim()
  .superRefine((text, ctx) => {
    try {
      keyBytes(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: EXPECTED });
    }
  });

/** Several keys, comma-separated. */
export const secretsKeyList = z
  .string()
  .transform((list) =>
    list
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k !== ''),
  )
  .pipe(z.array(secretsKeyText).min(1, { error: `${EXPECTED}; several comma-separated` }));
