/**
 * CPU seconds spent by the database while a system runs, read from /proc (Linux): utime + stime of
 * every PostgreSQL backend connected to the run's database (children of the server's postmaster whose
 * process title names that database), or of the redis-server process. pg_stat_statements is not
 * loaded on the bench machine, and /proc also counts what statements do not: parsing, commits, idle
 * transactions, LISTEN/NOTIFY.
 *
 * Backends are sampled every 200 ms, so one that exits during a run still counts up to its last
 * sample. Server-wide processes (WAL writer, checkpointer) are not counted: other databases share them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux the bench runs on

/** [ppid, utime + stime in ticks] of a process, or undefined once it is gone. */
function statOf(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // after "pid (comm) ": state ppid … utime (field 14) stime (field 15)
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

const pids = () =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);

/** A running measurement. */
export interface CpuMeter {
  /** CPU seconds since the meter started. */
  stop(): number;
}

/** Sums the CPU of the processes `select` picks, sampled until stopped. */
function meter(select: () => number[]): CpuMeter {
  const start = new Map<number, number>();
  const latest = new Map<number, number>();
  const sample = (into: Map<number, number>) => {
    for (const pid of select()) {
      const s = statOf(pid);
      if (s) into.set(pid, s.ticks);
    }
  };
  sample(start);
  const timer = setInterval(() => sample(latest), 200);
  return {
    stop() {
      clearInterval(timer);
      sample(latest);
      let ticks = 0;
      for (const [pid, t] of latest) ticks += t - (start.get(pid) ?? 0);
      return ticks / TICKS_PER_SECOND;
    },
  };
}

/** The postmaster's pid: the parent of the backend serving a fresh connection. */
export async function postmasterPid(adminUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    const parent = statOf(Number(rows[0]?.pid))?.ppid;
    if (!parent)
      throw new Error('cannot read the PostgreSQL backend in /proc (is the server on this machine?)');
    return parent;
  } finally {
    await client.end();
  }
}

/** The CPU of every backend of `database` (the postmaster's children titled with its name). */
export function meterPostgres(postmaster: number, database: string): CpuMeter {
  const isBackend = backendOf(postmaster, database);
  const known = new Map<number, boolean>();
  return meter(() =>
    pids().filter((pid) => {
      let ours = known.get(pid);
      if (ours === undefined) {
        ours = isBackend(pid);
        // a title not yet set (a backend still authenticating) is asked again next time
        if (ours || statOf(pid)?.ppid !== postmaster) known.set(pid, ours);
      }
      return ours;
    }),
  );
}

/** The CPU of the whole server: the postmaster and every process it started (backends of every
 * database, WAL writer, checkpointer, …). */
export function meterPostgresServer(postmaster: number): CpuMeter {
  return meter(() => pids().filter((pid) => pid === postmaster || statOf(pid)?.ppid === postmaster));
}

/** The backends of `database` alive now. */
export function postgresBackends(postmaster: number, database: string): number[] {
  return pids().filter(backendOf(postmaster, database));
}

/** Whether a process is a backend of `database`: a child of the postmaster titled with its name. */
function backendOf(postmaster: number, database: string): (pid: number) => boolean {
  const named = new RegExp(`\\s${database}(\\s|$)`);
  return (pid) => statOf(pid)?.ppid === postmaster && named.test(commandLineOf(pid));
}

/** CPU seconds used so far by these processes (for phases of a run: take differences). */
export function cpuOf(processes: readonly number[]): number {
  let ticks = 0;
  for (const pid of processes) ticks += statOf(pid)?.ticks ?? 0;
  return ticks / TICKS_PER_SECOND;
}

/** The pid of the process whose command line starts with `name`, e.g. `redis-server`. */
export function findProcess(name: string): number | undefined {
  return pids().find((pid) => commandLineOf(pid).startsWith(name));
}

/** The CPU of one process (all its threads). */
export function meterProcess(pid: number): CpuMeter {
  return meter(() => [pid]);
}

/** The CPU of this process (user + system, every thread), from process.cpuUsage. */
export function meterSelf(): CpuMeter {
  const start = process.cpuUsage();
  return {
    stop() {
      const used = process.cpuUsage(start);
      return (used.user + used.system) / 1e6;
    },
  };
}
