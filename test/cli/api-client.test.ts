/**
 * How the CLI words a refusal of the API: `error: <code>: <message>` on one line, from the error body
 * of the one vocabulary (src/errors), then each problem of a 400 on a line of its own; never a raw
 * JSON body. The commands print it on stderr and exit 1 (test/cli/service.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { apiAnswer, describeApiError } from '../../src/cli/api-client.js';
import { errorBody } from '../../src/errors/index.js';

describe('describeApiError', () => {
  it('prints the code and the message of the error body', () => {
    const body = errorBody('not_found', 'No delivery 9a41d7c0', { id: '9a41d7c0' });
    expect(describeApiError({ status: 404, body })).toBe('error: not_found: No delivery 9a41d7c0');
    expect(describeApiError(apiAnswer(409, JSON.stringify(errorBody('conflict', 'Partner exists'))))).toBe(
      'error: conflict: Partner exists',
    );
  });

  it('keeps the message to one line, and lists the problems of a validation error under it', () => {
    const body = errorBody('bad_request', 'first line\n  second line');
    expect(describeApiError({ status: 400, body })).toBe('error: bad_request: first line second line');
    const invalid = errorBody('validation_failed', 'The request body is invalid', {
      in: 'body',
      problems: [
        { path: '$.since', message: 'expected a string, got a number' },
        { path: '$.extra', message: 'Unknown field' },
      ],
    });
    expect(describeApiError({ status: 400, body: invalid }).split('\n')).toEqual([
      'error: validation_failed: The request body is invalid',
      '  $.since: expected a string, got a number',
      '  $.extra: Unknown field',
    ]);
  });

  it('names the status, and never prints a raw JSON body, when the answer is not the error shape', () => {
    expect(describeApiError(apiAnswer(502, '<html>\n<h1>Bad Gateway</h1>\n</html>'))).toBe(
      'error: HTTP 502 Bad Gateway: <html> <h1>Bad Gateway</h1> </html>',
    );
    expect(describeApiError(apiAnswer(500, ''))).toBe('error: HTTP 500 Internal Server Error');
    expect(describeApiError(apiAnswer(429, '{"message":"slow down","statusCode":429}'))).toBe(
      'error: HTTP 429 Too Many Requests: slow down',
    );
    expect(describeApiError(apiAnswer(503, '{"statusCode":503}'))).toBe(
      'error: HTTP 503 Service Unavailable',
    );
  });
});
