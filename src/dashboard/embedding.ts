/**
 * The dashboard inside another site's page (issue 14): which origins may frame it
 * (`DASHBOARD_FRAME_ANCESTORS`), the Content-Security-Policy that says so, and the session cookie a
 * browser keeps inside a third-party frame. With no origins (the default) nothing changes: the
 * dashboard refuses every frame and its cookie stays SameSite=Strict.
 */
import { z } from 'zod';

/** An origin a frame may be in: `https://partner.example`, `https://*.partner.example`, a port allowed. */
const ORIGIN = /^https?:\/\/(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/i;

/**
 * `DASHBOARD_FRAME_ANCESTORS`: origins separated by spaces or commas, or `none` (the default); the
 * origins, lower-cased, or [] for none.
 *
 * @example frameAncestors.parse('https://a.example, https://b.example:8443') // ['https://a.example', 'https://b.example:8443']
 */
export const frameAncestors = z.string().transform((raw, ctx): string[] => {
  const words = raw
    .split(/[\s,]+/)
    .map((w) => w.trim())
    .filter((w) => w !== '');
  if (words.length === 0 || (words.length === 1 && /^'?none'?$/i.test(words[0] ?? ''))) return [];
  const wrong = words.filter((w) => !ORIGIN.test(w.replace(/\/$/, '')));
  if (wrong.length === 0) return words.map((w) => w.replace(/\/$/, '').toLowerCase());
  ctx.addIssue({
    code: 'custom',
    message: `expected none, or origins such as https://partner.example separated by spaces or commas (not ${wrong.join(', ')})`,
  });
  return z.NEVER;
});

/** Whether the dashboard may be framed at all. */
export const framingAllowed = (ancestors: readonly string[]): boolean => ancestors.length > 0;

/**
 * The dashboard's security headers: no inline script, no sniffing, no referrer leaks, and framing
 * only by `ancestors` (none: `frame-ancestors 'none'` and `X-Frame-Options: DENY`; X-Frame-Options
 * has no allow-list, so it is left out when some origins may frame the pages).
 */
export function securityHeaders(ancestors: readonly string[]): Record<string, string> {
  const framing = framingAllowed(ancestors) ? ancestors.join(' ') : "'none'";
  return {
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " +
      `base-uri 'none'; form-action 'self'; frame-ancestors ${framing}`,
    ...(framingAllowed(ancestors) ? {} : { 'x-frame-options': 'DENY' }),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
  };
}
