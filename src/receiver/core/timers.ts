/**
 * Timers the core uses on every runtime. Node has `setImmediate` and timers that can be unreferenced;
 * Web-standard runtimes (Workers, Deno, browsers) have neither, and a timer there is a number.
 */

/**
 * Runs `callback` on a later turn of the event loop: after the I/O already waiting on Node
 * (`setImmediate`, so requests read in the same turn join one batch), after a zero timeout elsewhere.
 */
export const nextTurn: (callback: () => void) => void =
  typeof setImmediate === 'function'
    ? (callback) => {
        setImmediate(callback);
      }
    : (callback) => {
        setTimeout(callback, 0);
      };

/** A timeout that never holds a Node process open (`unref`); elsewhere an ordinary timeout. */
export function backgroundTimeout(callback: () => void, ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(callback, ms);
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
