import type { IncomingMessage } from 'node:http';

/**
 * Reads a Node request body up to `limitBytes`. Resolves `undefined` as soon as the limit is passed
 * and stops reading (the caller answers 413 and closes the connection), so a client streaming
 * gigabytes costs at most `limitBytes` of memory. Rejects if the client aborts.
 */
export function readNodeBody(req: IncomingMessage, limitBytes: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('client closed the connection before the body was complete'));
    };
    if (req.readableEnded) {
      reject(new Error('the request body was already consumed (mount the receiver before any body parser)'));
      return;
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
