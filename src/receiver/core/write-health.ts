import type { ReceiverLogger } from './logger.js';

/** A writer whose writes to the inbox fail now. */
export interface WriteFailure {
  /**
   * `inbox` (recording events: they are answered 503), `inbox worker` (the handlers' bookkeeping),
   * `status projection` (the SQLite inbox's status table).
   */
  readonly writer: string;
  /** When the first write of this episode failed. */
  readonly since: Date;
  /** The first failure's code and message (`SQLITE_FULL: database or disk is full`). */
  readonly error: string;
  /** Writes failed in this episode so far. */
  readonly failures: number;
}

/**
 * An episode of failing writes (a full disk, an I/O error, a lock held too long), for one writer: the
 * first failure is logged, the ones after it are only counted, and the first success after them logs
 * the recovery with that count. A full disk under load then costs two log lines, not one per request
 * (each written to the same disk that is full, for a log file).
 *
 * @example
 * const health = new WriteHealth(log, 'inbox');
 * try { write(); health.succeeded(); } catch (error) { health.failed(error); }
 */
export class WriteHealth {
  readonly #log: ReceiverLogger;
  readonly #what: string;
  #failing: { since: Date; error: string; failures: number } | undefined;

  /** `what` names the writer in the log lines and in {@link WriteFailure}: `'inbox'`, `'status projection'`. */
  constructor(log: ReceiverLogger, what: string) {
    this.#log = log;
    this.#what = what;
  }

  /** The episode under way, or undefined when the last write succeeded. */
  get failure(): WriteFailure | undefined {
    return this.#failing && { writer: this.#what, ...this.#failing };
  }

  failed(error: unknown, consequence: string): void {
    if (this.#failing) {
      this.#failing.failures++;
      return;
    }
    const described = describeStorageError(error);
    this.#failing = { since: new Date(), error: described, failures: 1 };
    this.#log.error(
      { err: described },
      `${this.#what} cannot write: ${consequence} (logged once until it can)`,
    );
  }

  succeeded(): void {
    if (!this.#failing) return;
    const { since, failures } = this.#failing;
    this.#failing = undefined;
    this.#log.warn(
      { failed_writes: failures, seconds: Math.round((Date.now() - since.getTime()) / 1000) },
      `${this.#what} writes again`,
    );
  }
}

/**
 * A storage failure in one short line: its code and message (`SQLITE_FULL: database or disk is full`).
 *
 * @example describeStorageError(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }))
 */
export function describeStorageError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
}

/**
 * Whether `error` is the storage failing (full, I/O, locked, read-only, out of memory) rather than a
 * bug: the former is answered 503 (retry later), the latter 500. SQLite's codes, as better-sqlite3
 * reports them (`SQLITE_FULL`, `SQLITE_IOERR_WRITE`, `SQLITE_BUSY_SNAPSHOT`, …).
 */
export function isStorageError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && STORAGE_CODES.test(code);
}

const STORAGE_CODES = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|NOMEM)(_|$)/;
