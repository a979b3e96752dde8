/**
 * Progress for long operations: a single rewritten line on a terminal (stderr), nothing at all when
 * stderr is piped or redirected, so scripts and logs only ever see the results on stdout.
 */

/** A running progress line. */
export interface Progress {
  /** Advances by one (or to `done`), with an optional note such as the check's name. */
  tick(note?: string, done?: number): void;
  /** Erases the line; call before printing results. */
  stop(): void;
}

/** Where progress goes; `process.stderr` unless a test says otherwise. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const SILENT: Progress = { tick() {}, stop() {} };

/**
 * Starts a progress line `label [n/total] note` on a TTY; a silent no-op otherwise.
 *
 * @example
 * const progress = startProgress('conformance', checks.length);
 * for (const check of checks) { progress.tick(check.title); await run(check); }
 * progress.stop();
 */
export function startProgress(
  label: string,
  total: number | undefined,
  stream: ProgressStream = process.stderr,
): Progress {
  if (!stream.isTTY) return SILENT;
  let count = 0;
  let last = 0;
  const width = Math.max(20, (stream.columns ?? 80) - 1);
  const draw = (note: string | undefined, force: boolean) => {
    const now = Date.now();
    // At most ~20 redraws a second: a fast loop must not spend its time repainting the terminal.
    if (!force && now - last < 50) return;
    last = now;
    const counter = total === undefined ? `${count}` : `${count}/${total}`;
    const line = `${label} [${counter}]${note ? ` ${note}` : ''}`;
    stream.write(`\r\x1b[2K${line.slice(0, width)}`);
  };
  draw(undefined, true);
  return {
    tick(note, done) {
      count = done ?? count + 1;
      draw(note, total !== undefined && count >= total);
    },
    stop() {
      stream.write('\r\x1b[2K');
    },
  };
}
