/**
 * What the dashboard reads from a request, as zod schemas: the fields of its forms (urlencoded bodies)
 * and of its query strings. A name given twice arrives as an array in both, so every field takes a
 * string or a list of strings and keeps the first. Query fields are lenient, because people edit links
 * by hand: a value that does not fit counts as absent (or as the first page). Forms say what is wrong.
 */
import { z } from 'zod';
import { notFound, PageError } from './page-error.js';

/** The largest form body accepted: a decision's reason is at most a few hundred characters. */
export const FORM_BODY_LIMIT = 16 * 1024;

/**
 * Parses an `application/x-www-form-urlencoded` body into its fields, the way Fastify parses a query
 * string: a repeated name becomes an array. Own properties only (`__proto__` is a field like any other).
 */
export function parseFormBody(body: string): Record<string, string | string[]> {
  const fields = new Map<string, string | string[]>();
  for (const [name, value] of new URLSearchParams(body)) {
    const seen = fields.get(name);
    fields.set(name, seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value]);
  }
  return Object.fromEntries(fields);
}

/**
 * One field: a string, or the first of the strings sent under its name.
 *
 * @example
 * z.object({ q: field }).parse({ q: ['a', 'b'] }); // { q: 'a' }
 */
export const field = z
  .union([z.string(), z.tuple([z.string()], z.string())])
  .transform((value) => (typeof value === 'string' ? value : value[0]));

/**
 * Every string sent under a name (checkboxes), absent as none.
 *
 * @example
 * z.object({ t: fieldList }).parse({ t: 'a' }); // { t: ['a'] }
 */
export const fieldList = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((value) => (value === undefined ? [] : typeof value === 'string' ? [value] : value));

/**
 * A time as a `datetime-local` input sends it (`2025-07-17T10:30`, read as UTC) or with an offset
 * (`2025-07-17T10:30:00Z`); undefined when it is neither.
 *
 * @example
 * parseUtcTime('2025-07-17T10:30'); // 2025-07-17T10:30:00.000Z
 */
export function parseUtcTime(text: string): Date | undefined {
  const local = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(text);
  const zoned = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text);
  if (!local && !zoned) return undefined;
  const at = new Date(local ? `${text}Z` : text);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** A time from a query (see {@link parseUtcTime}); absent when empty or not a time. */
export const optionalTime = field
  .transform((text, ctx) => {
    const at = parseUtcTime(text.trim());
    if (at === undefined) ctx.addIssue({ code: 'custom', message: 'Not a time' });
    return at ?? new Date(0);
  })
  .optional()
  .catch(undefined);

/** Text with surrounding spaces removed; absent is ''. */
export const trimmed = field
  .transform((value) => value.trim())
  .optional()
  .transform((value) => value ?? '');

/** A field that is absent when it is missing or does not fit `schema` (a link edited by hand). */
export function optionalField<T>(schema: z.ZodType<T, string>) {
  return field.pipe(schema).optional().catch(undefined);
}

/** Any text, or absent. */
export const optionalText = optionalField(z.string());

/** A page number from a query: 1 unless it is a whole number from 1 to 100,000. */
export const pageNumber = field.transform(Number).pipe(z.number().int().min(1).max(100_000)).catch(1);

/** Whether `value` is a path inside the dashboard: never another site (`//evil`, `/\\evil`). */
export function isDashboardPath(value: string): boolean {
  return (
    value.length <= 2000 &&
    /^\/dashboard(?:[/?#][^\s\\]*)?$/.test(value) &&
    !value.startsWith('//') &&
    !value.includes('//')
  );
}

/** Where to go after a form (`back`, `next`): a dashboard path, or absent, so never an open redirect. */
export const dashboardPath = optionalField(z.string().refine(isDashboardPath));

/** The problems of a failed parse, one line each, named by field (`whole` when the input is not a form). */
export function problems(error: z.ZodError, whole: string): string[] {
  return error.issues.map((i) => `${i.path.join('.') || whole}: ${i.message}`);
}

/**
 * Reads a query string or form body with `schema`; what does not parse is a 400 page that names each
 * problem. Lenient schemas (every field with a fallback) never fail on an object.
 *
 * @example
 * const { page } = readFields(z.object({ page: pageNumber }), request.query);
 */
export function readFields<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  throw new PageError(400, `The request is not valid. ${problems(parsed.error, 'request').join('; ')}`);
}

/** Reads a route's path parameters with `schema`; a path that does not fit names nothing here (404). */
export function readParams<T>(schema: z.ZodType<T>, params: unknown): T {
  const parsed = schema.safeParse(params);
  if (parsed.success) return parsed.data;
  throw notFound();
}
