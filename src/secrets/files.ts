/**
 * Files only their owner reads: the SQLite database (and its -wal and -shm), the key file beside it.
 * The database holds partners' data and token hashes; nothing in it is for other users of the machine.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

/** Owner read and write, nothing for the group or others. */
export const PRIVATE_MODE = 0o600;

/**
 * Creates `file` empty with mode 0600 if it does not exist, and tightens an existing one to 0600
 * (files made by earlier versions were 0644). A file this process may not chmod (another owner) is
 * left as it is. Call before SQLite opens the file: SQLite creates a new database 0644, and its -wal
 * and -shm with the database file's mode.
 *
 * @example
 * ensurePrivateFile('./data/tpcs.db');
 * const db = new Database('./data/tpcs.db');
 */
export function ensurePrivateFile(file: string): void {
  try {
    closeSync(openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, PRIVATE_MODE));
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  restrict(file);
}

/**
 * Tightens a SQLite database's -wal and -shm to 0600 when they exist (left by an earlier version:
 * SQLite gives new ones the database file's mode, so they are 0600 once the database is).
 */
export function restrictSqliteSidecars(file: string): void {
  for (const suffix of ['-wal', '-shm', '-journal']) restrict(`${file}${suffix}`);
}

function restrict(file: string): void {
  try {
    chmodSync(file, PRIVATE_MODE);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'EPERM') throw error;
  }
}

/**
 * Writes a new file with mode 0600 and makes it durable (the file and its folder entry are fsynced)
 * before returning: a key that vanishes at a power cut would take every secret encrypted under it.
 * The content is written to a temporary file first and linked into place, so a process that finds
 * the file never reads it half written. Returns false, writing nothing, when the file already exists
 * (another process made it first).
 */
export function writeNewPrivateFile(file: string, content: string): boolean {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, PRIVATE_MODE);
  try {
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
  const dir = openSync(dirname(file), constants.O_RDONLY);
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return true;
}

/** Tightens an existing file to 0600 (when this process may). */
export function restrictToOwner(file: string): void {
  restrict(file);
}

/** A key file's text, trimmed. */
export function readKeyFile(file: string): string {
  return readFileSync(file, 'utf8').trim();
}
