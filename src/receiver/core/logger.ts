/** The logging the receiver needs; a pino logger fits as is. */
export interface ReceiverLogger {
  /** One line per accepted event, when given (pino: at level `debug`). */
  debug?(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Without a logger: quiet on success, warnings and errors on stderr (a library must not spam stdout). */
export const consoleLogger: ReceiverLogger = {
  info() {},
  warn(fields, message) {
    console.warn(`[tpcs receiver] ${message}`, fields);
  },
  error(fields, message) {
    console.error(`[tpcs receiver] ${message}`, fields);
  },
};
