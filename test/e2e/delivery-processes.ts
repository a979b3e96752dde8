/** Spawning `tpcs worker` processes for the delivery e2e tests (built CLI, real process, real kill). */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { databaseEnv } from '../support/databases.js';

const BIN = fileURLToPath(new URL('../../bin/tpcs.js', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

export function spawnWorker(databaseUrl: string, env: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, [BIN, 'worker'], {
    env: {
      ...process.env,
      ...databaseEnv(databaseUrl),
      ALLOW_PRIVATE_ENDPOINTS: 'true',
      RETRY_SCHEDULE: '100ms,200ms,300ms,500ms,1s,1s,1s,1s,1s,1s',
      RETRY_JITTER: 'none',
      // a short lease, so a killed worker's claims come back quickly (the sink answers at once)
      DELIVERY_TIMEOUT: '500ms',
      DELIVERY_LEASE: '1500ms',
      DELIVERY_POLL: '50ms',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (b: Buffer) => output.push(b.toString()));
  child.stderr?.on('data', (b: Buffer) => output.push(b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

export async function stopWorker(w: WorkerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill(signal);
  await w.exited;
}
