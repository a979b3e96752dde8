/**
 * The one sink every system in bench/peers posts to, in a process of its own (sink-server.ts).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What the sink received since its last reset. Times are epoch milliseconds (sub-ms precision). */
export interface SinkReport {
  requests: number;
  /** Distinct (path, webhook-id) pairs: each delivery counted once, however often it was sent. */
  distinct: number;
  first: number;
  last: number;
}

export interface Sink {
  /** The sink's origin, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Forgets every request and closes kept-alive connections (the next system starts cold). */
  reset(): Promise<void>;
  /** Resolves when `expected` distinct deliveries have arrived; rejects after `timeoutMs`. */
  received(expected: number, timeoutMs: number): Promise<SinkReport>;
  close(): void;
}

type Message = { port: number } | { reset: true } | { done: SinkReport } | { status: SinkReport };

/** Forks the sink process (through tsx, as the bench itself runs) and waits for its port. */
export async function startSink(): Promise<Sink> {
  const file = fileURLToPath(new URL('./sink-server.ts', import.meta.url));
  const child = fork(file, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <K extends string>(key: K) =>
    new Promise<Extract<Message, Record<K, unknown>>>((resolve) => {
      const onMessage = (m: Message) => {
        if (key in m) {
          child.off('message', onMessage);
          resolve(m as Extract<Message, Record<K, unknown>>);
        }
      };
      child.on('message', onMessage);
    });
  const { port } = await next('port');
  return {
    url: `http://127.0.0.1:${port}`,
    async reset() {
      const answered = next('reset');
      child.send({ reset: true });
      await answered;
    },
    async received(expected, timeoutMs) {
      const done = next('done');
      child.send({ arm: expected });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const status = next('status');
          child.send({ status: true });
          status.then(({ status: s }) =>
            reject(new Error(`sink: ${s.distinct} of ${expected} deliveries after ${timeoutMs / 1000} s`)),
          );
        }, timeoutMs);
      });
      try {
        return (await Promise.race([done, timedOut])).done;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => child.kill(),
  };
}
