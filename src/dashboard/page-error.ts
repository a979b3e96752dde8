/** The dashboard's one error: thrown by a route or hook, rendered by the error hook as an HTML page. */

/** A page error: rendered as an HTML page with this status and message. */
export class PageError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'PageError';
    this.status = status;
  }
}

/** 404, worded so that it does not tell whether the thing exists for another partner. */
export function notFound(): PageError {
  return new PageError(404, 'There is nothing here, or it belongs to another partner.');
}
