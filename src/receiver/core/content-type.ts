/**
 * Whether a `content-type` announces JSON we can read. Lenient where senders differ harmlessly:
 * any case, parameters (`; charset=utf-8`), structured `application/<x>+json`. Strict where it
 * matters: a missing header or a charset other than UTF-8 is refused, because the signature covers
 * bytes and the contract is defined over UTF-8 JSON.
 */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const [mediaType = '', ...parameters] = value.split(';');
  const type = mediaType.trim().toLowerCase();
  const isJson = type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
  if (!isJson) return false;
  for (const parameter of parameters) {
    const eq = parameter.indexOf('=');
    if (eq === -1) continue;
    if (parameter.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = parameter
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return false;
  }
  return true;
}
