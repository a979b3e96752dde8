/**
 * Reading captured HTTP requests for `tpcs verify`: a raw request (request line, headers, blank line,
 * body) with CRLF or LF line ends, or a headers file on its own (header lines, or a JSON object).
 * The body is kept as bytes: the signature covers exactly them.
 */

/** A captured request: lower-cased header names (repeated ones joined into a list), and the raw body. */
export interface CapturedRequest {
  requestLine: string | undefined;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

const REQUEST_LINE = /^[A-Z]+ \S+ HTTP\/\d(\.\d)?$/;

/**
 * Splits a raw HTTP request into its parts. A `content-length` shorter than what follows the headers
 * trims the body (an editor's final newline is then harmless); chunked bodies are not decoded.
 *
 * @example
 * parseRawRequest(Buffer.from('POST /webhook HTTP/1.1\r\nwebhook-id: 1\r\n\r\n{}')).body.toString(); // '{}'
 */
export function parseRawRequest(raw: Buffer): CapturedRequest {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  let headEnd: number;
  let sepLength: number;
  if (crlf !== -1 && (lf === -1 || crlf < lf)) {
    headEnd = crlf;
    sepLength = 4;
  } else if (lf !== -1) {
    headEnd = lf;
    sepLength = 2;
  } else {
    headEnd = raw.length;
    sepLength = 0;
  }
  const head = parseHeaderLines(raw.subarray(0, headEnd).toString('latin1'));
  let body = raw.subarray(Math.min(raw.length, headEnd + sepLength));
  const length = head.headers['content-length'];
  if (typeof length === 'string' && /^\d+$/.test(length) && Number(length) < body.length) {
    body = body.subarray(0, Number(length));
  }
  return { ...head, body: Buffer.from(body) };
}

/**
 * Reads a headers file: a JSON object of name → value (or list of values), or `Name: value` lines,
 * optionally after a request line.
 *
 * @throws {Error} when a line is neither a header nor the request line
 */
export function parseHeadersFile(text: string): Pick<CapturedRequest, 'requestLine' | 'headers'> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const object = JSON.parse(trimmed) as Record<string, unknown>;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(object)) {
      if (Array.isArray(value)) headers[name.toLowerCase()] = value.map(String);
      else if (value !== null && value !== undefined) headers[name.toLowerCase()] = String(value);
    }
    return { requestLine: undefined, headers };
  }
  return parseHeaderLines(text);
}

function parseHeaderLines(text: string): Pick<CapturedRequest, 'requestLine' | 'headers'> {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  let requestLine: string | undefined;
  if (lines[0] !== undefined && REQUEST_LINE.test(lines[0].trim())) requestLine = lines.shift()?.trim();
  const headers: Record<string, string | string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`not a header line: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else headers[name] = [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return { requestLine, headers };
}
