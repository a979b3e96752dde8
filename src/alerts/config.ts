/** The text forms of the alert settings (`SMTP_URL`, `ALERT_EMAIL_FROM`; src/config/settings.ts). */
import { z } from 'zod';

const SMTP_EXPECTED = 'expected an smtp:// or smtps:// URL such as smtp://127.0.0.1:2525';

/**
 * Where alert emails are sent from: `smtp://[user:pass@]host[:port]` (STARTTLS when offered, port 587
 * by default) or `smtps://…` (TLS, 465).
 *
 * @example smtpUrl.parse('smtp://127.0.0.1:2525') // 'smtp://127.0.0.1:2525'
 */
export const smtpUrl = z
  .string()
  .trim()
  .refine((text) => {
    try {
      const u = new URL(text);
      return (u.protocol === 'smtp:' || u.protocol === 'smtps:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, SMTP_EXPECTED);

/** The `From` of alert emails: an address, optionally with a name (`tpcs <alerts@example.com>`). */
export const emailFrom = z
  .string()
  .trim()
  .regex(/^(?:[^<>]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/, {
    error: 'expected an email address such as alerts@example.com or "tpcs <alerts@example.com>"',
  });
