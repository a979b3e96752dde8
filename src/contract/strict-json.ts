/**
 * A strict JSON scan for what `JSON.parse` lets through or reports poorly.
 *
 * - Duplicate keys: `JSON.parse` silently keeps the last one, so `{"status":"REJECTED","status":
 *   "APPROVED"}` would read as approved to us and perhaps rejected to another parser. RFC 8259
 *   says names SHOULD be unique; we refuse duplicates at any depth.
 * - `__proto__` keys: legal JSON, but a trap for JavaScript consumers (`Object.assign` turns it
 *   into a prototype), and dropped by the schema; refused instead of silently lost.
 * - Syntax errors: V8's messages do not always give a position; this gives line and column.
 *
 * It is a single pass over the text with an explicit stack (no recursion, so deep nesting cannot
 * overflow), following the RFC 8259 grammar exactly, so it accepts precisely what `JSON.parse`
 * accepts (a property test checks this). It builds no values: the caller still uses `JSON.parse`,
 * which is native and faster at that.
 */
import { jsonPath, type Problem } from '../errors/index.js';
import { problemAt } from './problems.js';

/**
 * What the scan found.
 *
 * @example
 * scanJson('{"a":1,"a":2}').keyProblems; // [{ path: '$.a', message: 'a appears more than once …' }]
 */
export interface JsonScan {
  /** The first syntax error, if any; the scan stops there. */
  syntaxError: Problem | undefined;
  /** Duplicate and `__proto__` keys, in document order (those before a syntax error). */
  keyProblems: Problem[];
}

// Character codes, compared with charCodeAt for speed.
const TAB = 0x09;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const UPPER_E = 0x45;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_BRACKET = 0x5d;
const LOWER_E = 0x65;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** One open object or array: its keys so far (objects) or the index being read (arrays). */
interface Frame {
  isObject: boolean;
  /** Keys seen in this object. Searched linearly while few (cheaper than hashing fresh strings). */
  keys: string[];
  /** The same keys, once there are too many for a linear search. */
  keySet: Set<string> | undefined;
  /** The current key (objects) or index (arrays), for paths in problems. */
  segment: string | number;
}

class SyntaxProblem {
  constructor(
    readonly offset: number,
    readonly expected: string,
  ) {}
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Scans JSON text. Never throws.
 *
 * @example
 * scanJson('{"a": [1, 2}').syntaxError?.message;
 * // "The body is not valid JSON: at line 1, column 12, expected \",\" or \"]\" in an array, but found \"}\"."
 */
export function scanJson(text: string): JsonScan {
  const keyProblems: Problem[] = [];
  try {
    scan(text, keyProblems);
    return { syntaxError: undefined, keyProblems };
  } catch (error) {
    if (error instanceof SyntaxProblem) return { syntaxError: syntaxProblem(text, error), keyProblems };
    throw error;
  }
}

function scan(text: string, keyProblems: Problem[]): void {
  const n = text.length;
  const stack: Frame[] = [];
  let i = skipWhitespace(text, 0);

  // Each turn reads one value, then the punctuation after it (closing as many containers as end there).
  for (;;) {
    // A value.
    const c = text.charCodeAt(i);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const isObject = c === OPEN_BRACE;
      i = skipWhitespace(text, i + 1);
      const close = isObject ? CLOSE_BRACE : CLOSE_BRACKET;
      if (text.charCodeAt(i) === close) {
        i++;
      } else {
        const frame: Frame = { isObject, keys: [], keySet: undefined, segment: 0 };
        stack.push(frame);
        if (isObject) i = readKey(text, i, frame, stack, keyProblems);
        continue;
      }
    } else if (c === QUOTE) {
      i = skipString(text, i);
    } else if (c === MINUS || isDigit(c)) {
      i = skipNumber(text, i);
    } else if (text.startsWith('true', i)) {
      i += 4;
    } else if (text.startsWith('false', i)) {
      i += 5;
    } else if (text.startsWith('null', i)) {
      i += 4;
    } else {
      throw new SyntaxProblem(i, 'a value (object, array, string, number, true, false or null)');
    }

    // After a value: "," or the end of its container, possibly several containers.
    for (;;) {
      i = skipWhitespace(text, i);
      const frame = stack[stack.length - 1];
      if (frame === undefined) {
        if (i < n) throw new SyntaxProblem(i, 'the end of the body after the JSON value');
        return;
      }
      const p = text.charCodeAt(i);
      if (p === COMMA) {
        i = skipWhitespace(text, i + 1);
        if (frame.isObject) i = readKey(text, i, frame, stack, keyProblems);
        else frame.segment = (frame.segment as number) + 1;
        break;
      }
      if (p === (frame.isObject ? CLOSE_BRACE : CLOSE_BRACKET)) {
        stack.pop();
        i++;
        continue;
      }
      throw new SyntaxProblem(i, frame.isObject ? '"," or "}" in an object' : '"," or "]" in an array');
    }
  }
}

/** Reads `"key"` and `:` at `i`; records duplicate and `__proto__` keys. Returns where the value starts. */
function readKey(text: string, i: number, frame: Frame, stack: Frame[], keyProblems: Problem[]): number {
  if (text.charCodeAt(i) !== QUOTE) throw new SyntaxProblem(i, 'a property name in double quotes');
  const end = skipString(text, i);
  const raw = text.slice(i + 1, end - 1);
  // Escapes are rare in keys; when present, JSON.parse decodes them (the string is already known valid).
  const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end)) as string) : raw;
  frame.segment = key;
  if (isDuplicate(frame, key)) {
    keyProblems.push(
      problemAt(
        pathOf(stack),
        `appears more than once in the same object (again at ${lineAndColumn(text, i)}); each key may appear only once, since parsers disagree on which copy wins`,
      ),
    );
  }
  if (key === '__proto__') {
    keyProblems.push(
      problemAt(pathOf(stack), 'is not an accepted key name (it is unsafe for JavaScript consumers)'),
    );
  }
  const colon = skipWhitespace(text, end);
  if (text.charCodeAt(colon) !== COLON) throw new SyntaxProblem(colon, '":" after the property name');
  return skipWhitespace(text, colon + 1);
}

const LINEAR_SEARCH_LIMIT = 16;

/** Whether `key` was already seen in this object; records it otherwise. */
function isDuplicate(frame: Frame, key: string): boolean {
  if (frame.keySet !== undefined) {
    if (frame.keySet.has(key)) return true;
    frame.keySet.add(key);
    return false;
  }
  if (frame.keys.includes(key)) return true;
  frame.keys.push(key);
  if (frame.keys.length > LINEAR_SEARCH_LIMIT) frame.keySet = new Set(frame.keys);
  return false;
}

function pathOf(stack: readonly Frame[]): string {
  return jsonPath(stack.map((frame) => frame.segment));
}

function skipWhitespace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== SPACE && c !== NEWLINE && c !== RETURN && c !== TAB) return i;
    i++;
  }
}

/** A run of characters that need no attention inside a string: not `"`, `\\` or a control character. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what it must stop at.
const STRING_RUN = /[^"\\\x00-\x1f]*/y;

/** Skips a string starting at the quote at `i`; returns the index after its closing quote. */
function skipString(text: string, i: number): number {
  const n = text.length;
  i++;
  const start = i;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c >= SPACE && c !== BACKSLASH) {
      // Past the first few characters, the regex engine skips ordinary ones several times faster
      // than this loop; for short strings (most keys) its call overhead is not worth it.
      if (i - start < 16) i++;
      else {
        STRING_RUN.lastIndex = i + 1;
        STRING_RUN.test(text);
        i = STRING_RUN.lastIndex;
      }
      continue;
    }
    if (c === BACKSLASH) {
      const e = text.charCodeAt(i + 1);
      if (e === 0x75 /* u */) {
        for (let k = 2; k < 6; k++) {
          if (!isHexDigit(text.charCodeAt(i + k)))
            throw new SyntaxProblem(i + k, 'four hex digits after "\\u"');
        }
        i += 6;
        continue;
      }
      // " \ / b f n r t
      if (
        e === 0x22 ||
        e === 0x5c ||
        e === 0x2f ||
        e === 0x62 ||
        e === 0x66 ||
        e === 0x6e ||
        e === 0x72 ||
        e === 0x74
      ) {
        i += 2;
        continue;
      }
      throw new SyntaxProblem(
        i + 1,
        'an escape (\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX) after "\\"',
      );
    }
    // Only a control character (U+0000 to U+001F) is left.
    throw new SyntaxProblem(i, 'no raw control character in a string (escape it, e.g. \\n)');
  }
  throw new SyntaxProblem(n, 'a closing double quote for the string');
}

/** Skips `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?` at `i`. */
function skipNumber(text: string, i: number): number {
  if (text.charCodeAt(i) === MINUS) i++;
  const first = text.charCodeAt(i);
  if (first === ZERO) {
    i++;
  } else if (isDigit(first)) {
    while (isDigit(text.charCodeAt(i))) i++;
  } else {
    throw new SyntaxProblem(i, 'a digit');
  }
  if (text.charCodeAt(i) === DOT) {
    i++;
    if (!isDigit(text.charCodeAt(i))) throw new SyntaxProblem(i, 'a digit after the decimal point');
    while (isDigit(text.charCodeAt(i))) i++;
  }
  const e = text.charCodeAt(i);
  if (e === LOWER_E || e === UPPER_E) {
    i++;
    const sign = text.charCodeAt(i);
    if (sign === PLUS || sign === MINUS) i++;
    if (!isDigit(text.charCodeAt(i))) throw new SyntaxProblem(i, 'a digit in the exponent');
    while (isDigit(text.charCodeAt(i))) i++;
  }
  return i;
}

function lineAndColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let k = text.indexOf('\n'); k !== -1 && k < offset; k = text.indexOf('\n', k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

function syntaxProblem(text: string, error: SyntaxProblem): Problem {
  const found =
    error.offset >= text.length
      ? 'the body ends there'
      : `found ${JSON.stringify(String.fromCodePoint(text.codePointAt(error.offset) ?? 0))}`;
  return problemAt(
    '$',
    `is not valid JSON: at ${lineAndColumn(text, error.offset)}, expected ${error.expected}, but ${found}`,
  );
}
