/**
 * Why a signing operation refused its input. These are programmer or configuration errors
 * (a malformed secret, an id that cannot be signed); verification never throws for anything
 * a client sends and reports a {@link VerifyFailure} instead.
 */
export type SigningErrorCode =
  | 'invalid_secret'
  | 'invalid_secret_length'
  | 'no_secrets'
  | 'invalid_id'
  | 'invalid_timestamp'
  | 'invalid_body'
  | 'invalid_options';

/**
 * Thrown by {@link parseSecret}, {@link generateSecret}, {@link signWebhook} and
 * {@link createVerifier} when their input cannot be used. `code` is stable; `message` is for people
 * and never contains secret material.
 *
 * @example
 * ```ts
 * try {
 *   parseSecret(process.env.WEBHOOK_SECRET ?? '');
 * } catch (error) {
 *   if (error instanceof SigningError && error.code === 'invalid_secret') console.error(error.message);
 * }
 * ```
 */
export class SigningError extends Error {
  readonly code: SigningErrorCode;

  constructor(code: SigningErrorCode, message: string) {
    super(message);
    this.name = 'SigningError';
    this.code = code;
  }
}
