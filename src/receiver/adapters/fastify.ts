import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Receiver } from '../core/receiver.js';
import { errorResponse, type ReceiverResponse } from '../core/response.js';

export interface FastifyReceiverOptions {
  receiver: Receiver;
  /** Default `/webhook`. Every method is routed here so that non-POST requests get the receiver's 405. */
  path?: string;
}

/**
 * A Fastify plugin that mounts the receiver at `path`. It keeps the body as raw bytes (a `*`
 * content-type parser with `parseAs: 'buffer'` and the receiver's `bodyLimit`), inside its own
 * encapsulated context, so the app's other routes keep their JSON parsing.
 *
 * @example
 * ```ts
 * await app.register(fastifyReceiver, { receiver, path: '/webhook' });
 * ```
 */
export const fastifyReceiver: FastifyPluginAsync<FastifyReceiverOptions> = async (app, options) => {
  const { receiver, path = '/webhook' } = options;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: receiver.maxBodyBytes },
    (_request, body, done) => done(null, body),
  );
  // Fastify's own 4xx errors (body too large, bad content-length) answered in the receiver's JSON shape.
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status === 413) {
      return send(
        reply.header('connection', 'close'),
        errorResponse('payload_too_large', `The body exceeds ${receiver.maxBodyBytes} bytes`, {
          limit_bytes: receiver.maxBodyBytes,
        }),
      );
    }
    if (status === 415)
      return send(
        reply,
        errorResponse('unsupported_media_type', 'Content-Type must be application/json (UTF-8)'),
      );
    if (status >= 400 && status < 500)
      return send(reply, errorResponse('unreadable_body', 'The request body could not be read'));
    reply.log.error({ err: error }, 'tpcs receiver: unexpected error');
    return send(reply, errorResponse('internal', 'Internal error'));
  });
  app.all(path, async (request, reply) => {
    const body = request.body;
    const response = await receiver.handle({
      method: request.method,
      headers: request.headers,
      body: body instanceof Uint8Array ? body : new Uint8Array(0),
    });
    return send(reply, response);
  });
};

function send(reply: FastifyReply, response: ReceiverResponse): FastifyReply {
  return reply.code(response.status).headers(response.headers).send(response.body);
}
