import fs from 'node:fs';

interface Waiter {
  commit: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Makes WAL commits durable off the event loop. The connection commits with `synchronous=NORMAL`
 * (the frames reach the OS, no fsync), then {@link WalSync.durable} waits for an `fdatasync` of the
 * `-wal` file run on libuv's thread pool. Once it resolves the commit is as durable as a
 * `synchronous=FULL` commit: SQLite itself syncs the WAL header whenever it starts reusing the file
 * and syncs the WAL before every checkpoint, so the synced frames are the ones recovery reads.
 *
 * Syncs are grouped: a call waits for the first `fdatasync` that STARTS after its commit, and one
 * `fdatasync` serves every commit made before it started. Meanwhile the event loop keeps taking
 * requests and committing the next batch, where a FULL commit would stop it for the whole fsync.
 *
 * After a failed `fdatasync` the kernel may have dropped the dirty pages, so a later successful one
 * proves nothing: every later call fails too (the receiver answers 503) until the process restarts
 * and SQLite recovers from what is really on disk. PostgreSQL treats fsync failure the same way.
 */
export class WalSync {
  readonly #fd: number;
  #commits = 0;
  #synced = 0;
  #waiters: Waiter[] = [];
  #running: Promise<void> | undefined;
  #failure: Error | undefined;
  #closed = false;

  /** `walFile` must already exist (it does once the connection has opened the database in WAL mode). */
  constructor(walFile: string) {
    this.#fd = fs.openSync(walFile, 'r');
  }

  /** Set once an fdatasync has failed: every later {@link durable} rejects with it. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Call right after a commit: resolves once that commit is on disk. */
  durable(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new Error('the inbox is closed'));
    const commit = ++this.#commits;
    return new Promise((resolve, reject) => {
      this.#waiters.push({ commit, resolve, reject });
      this.#start();
    });
  }

  /** Waits for the sync in flight (and any it leaves due), then closes the file. */
  async close(): Promise<void> {
    while (this.#running) await this.#running;
    if (this.#closed) return;
    this.#closed = true;
    fs.closeSync(this.#fd);
  }

  #start(): void {
    if (this.#running || this.#failure || this.#waiters.length === 0) return;
    const upTo = this.#commits;
    this.#running = new Promise<void>((done) => {
      fs.fdatasync(this.#fd, (error) => {
        if (error) this.#fail(error);
        else this.#settle(upTo);
        this.#running = undefined;
        done();
        this.#start();
      });
    });
  }

  #settle(upTo: number): void {
    this.#synced = upTo;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.commit <= this.#synced) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiters = still;
  }

  #fail(error: NodeJS.ErrnoException): void {
    this.#failure = new Error(`fdatasync of the inbox WAL failed (${error.code ?? error.message}); restart`);
    for (const waiter of this.#waiters) waiter.reject(this.#failure);
    this.#waiters = [];
  }
}
