/**
 * HTML by template literals, escaped by default: every interpolated value is escaped unless it is
 * already {@link SafeHtml} (the result of another `html` template), so forgetting to escape is not
 * possible by omission.
 */

/** Markup that is already safe to place in a page: produced by {@link html} or {@link trustedHtml}. */
export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/**
 * Escapes text for an HTML text node or a quoted attribute value.
 *
 * @example
 * escapeHtml('<script>"x"</script>'); // '&lt;script&gt;&quot;x&quot;&lt;/script&gt;'
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ENTITIES[c] ?? c);
}

/** A value that may be interpolated: text (escaped), numbers, safe markup, lists of these; nothing for null/false. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false || value === true) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/**
 * The tagged template: literal parts are kept, every interpolated value is escaped.
 *
 * @example
 * html`<td>${customer.name}</td>`; // a name of "<b>" becomes "&lt;b&gt;"
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i] as HtmlValue) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Marks a constant string (never one built from input) as markup. */
export function trustedHtml(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/**
 * A URL path from segments, each percent-encoded, plus an optional query without empty values.
 *
 * @example
 * href(['dashboard', 'customers', '0201', 'CUST 1'], {page: 2}); // '/dashboard/customers/0201/CUST%201?page=2'
 */
export function href(
  segments: readonly string[],
  query: Record<string, string | number | undefined> = {},
): string {
  const path = `/${segments.map(encodeURIComponent).join('/')}`;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}
