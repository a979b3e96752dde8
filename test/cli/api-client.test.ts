/**
 * How the CLI words a refusal of the API: one line, `error: <code>: <message>`, from the error body
 * of the one vocabulary (src/errors). The commands print it on stderr and exit 1 (test/cli/service.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { apiAnswer, describeApiError } from '../../src/cli/api-client.js';
import { errorBody } from '../../src/errors/index.js';

describe('describeApiError', () => {
  it('prints the code and the message of the error body', () => {
    const body = errorBody('not_found', 'No delivery dl_1', { id: 'dl_1' });
    expect(describeApiError({ status: 404, body })).toBe('error: not_found: No delivery dl_1');
    expect(describeApiError(apiAnswer(409, JSON.stringify(errorBody('conflict', 'Partner exists'))))).toBe(
      'error: conflict: Partner exists',
    );
  });

  it('keeps to one line', () => {
    const body = errorBody('bad_request', 'first line\n  second line');
    expect(describeApiError({ status: 400, body })).toBe('error: bad_request: first line second line');
  });

  it('names the status when the answer is not the error shape (a proxy, say)', () => {
    expect(describeApiError(apiAnswer(502, '<html>\n<h1>Bad Gateway</h1>\n</html>'))).toBe(
      'error: HTTP 502: <html> <h1>Bad Gateway</h1> </html>',
    );
    expect(describeApiError(apiAnswer(500, ''))).toBe('error: HTTP 500: null');
    expect(describeApiError(apiAnswer(500, '{"message":"x"}'))).toBe('error: HTTP 500: {"message":"x"}');
  });
});
