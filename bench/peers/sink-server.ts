/**
 * The sink's process (forked by sink.ts): a bare node:http server answering 200 with an empty body,
 * counting each distinct (path, webhook-id) once and noting when the first and the last arrived.
 * It runs apart from the systems measured, so its CPU never competes inside their event loop.
 */
import http from 'node:http';

interface Armed {
  expected: number;
}

const seen = new Set<string>();
let requests = 0;
let first = 0;
let last = 0;
let armed: Armed | undefined;

const now = () => performance.timeOrigin + performance.now();
const report = () => ({ requests, distinct: seen.size, first, last });

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const at = now();
    requests++;
    if (first === 0) first = at;
    last = at;
    seen.add(`${req.url} ${String(req.headers['webhook-id'])}`);
    res.writeHead(200).end();
    if (armed && seen.size >= armed.expected) {
      armed = undefined;
      process.send?.({ done: report() });
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});

process.on('message', (m: { reset?: true; arm?: number; status?: true }) => {
  if (m.reset) {
    seen.clear();
    requests = first = last = 0;
    armed = undefined;
    server.closeAllConnections();
    process.send?.({ reset: true });
  }
  if (m.arm !== undefined) armed = { expected: m.arm };
  if (m.status) process.send?.({ status: report() });
});
process.on('disconnect', () => process.exit(0));
