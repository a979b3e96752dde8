import type { NextFunction, Request, Response } from 'express';
import type { Receiver } from '../core/receiver.js';
import { writeNodeResponse } from './node.js';
import { readNodeBody } from './read-node-body.js';

/**
 * Express middleware for the receiver. It reads the raw body itself, because the signature covers the
 * exact bytes: mount it BEFORE any body parser (`express.json()` would consume and re-shape the body).
 * If `express.raw({ type: () => true })` ran first, its Buffer is used. A body already parsed into an
 * object is a wiring mistake and is passed to `next(error)` rather than answered as a client error.
 *
 * @example
 * ```ts
 * app.post('/webhook', createExpressMiddleware(receiver)); // before app.use(express.json())
 * ```
 */
export function createExpressMiddleware(
  receiver: Receiver,
): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const parsed: unknown = req.body;
    const alreadyRead = Buffer.isBuffer(parsed) ? parsed : undefined;
    if (alreadyRead === undefined && req.readableEnded && parsed !== undefined) {
      next(
        new Error(
          'tpcs receiver: the request body was already parsed; mount createExpressMiddleware before ' +
            'express.json() (or use express.raw()) so the signature can be checked over the raw bytes',
        ),
      );
      return;
    }
    let bodyCut = false;
    receiver
      .handle({
        method: req.method,
        headers: req.headers,
        body:
          alreadyRead ??
          (async (limit) => {
            const body = await readNodeBody(req, limit);
            bodyCut = body === undefined;
            return body;
          }),
      })
      .then(
        (response) => writeNodeResponse(res, response, bodyCut || !req.complete),
        (error: unknown) => next(error),
      );
  };
}
