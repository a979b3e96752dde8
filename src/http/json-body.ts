/**
 * The API's JSON body parser: Fastify's own (so an empty body, bad JSON and prototype poisoning
 * answer as they always have), plus a refusal of duplicate keys. `JSON.parse` silently keeps the
 * last copy of a key, so `{"status":"REJECTED","status":"APPROVED"}` would read as approved here and
 * perhaps as rejected to a proxy or log reader; the receiver kit refuses such bodies, and so does the API.
 */
import type { FastifyInstance } from 'fastify';
import { scanJson } from '../contract/strict-json.js';
import { HttpError } from './errors.js';

/**
 * Replaces the `application/json` parser of `app` (call before routes are registered).
 *
 * @example
 * const app = Fastify();
 * installJsonBodyParser(app);
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, body as string, (err, value) => {
      if (err) return done(err, undefined);
      // Only valid JSON gets here, so the scan finds no syntax error, and no `__proto__` key either
      // (the default parser refuses those): what it reports is duplicate keys.
      const { keyProblems } = scanJson(body as string);
      if (keyProblems.length === 0) return done(null, value);
      done(
        new HttpError('validation_failed', 'The request body repeats a key', {
          in: 'body',
          problems: keyProblems,
        }),
        undefined,
      );
    });
  });
}
