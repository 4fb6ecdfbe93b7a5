/**
 * One error family for core. Each surface maps it once: HTTP status + JSON with a request id,
 * a short ":x: message" in chat.
 */
export class AppError extends Error {
  readonly status: number = 500;
  readonly code: string = 'internal';
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  override readonly status = 400;
  override readonly code = 'invalid_input';
}
export class UnauthorizedError extends AppError {
  override readonly status = 401;
  override readonly code = 'unauthorized';
}
export class ForbiddenError extends AppError {
  override readonly status = 403;
  override readonly code = 'forbidden';
}
export class NotFoundError extends AppError {
  override readonly status = 404;
  override readonly code = 'not_found';
}
export class ConflictError extends AppError {
  override readonly status = 409;
  override readonly code = 'conflict';
}
export class PayloadTooLargeError extends AppError {
  override readonly status = 413;
  override readonly code = 'payload_too_large';
}
export class ServiceUnavailableError extends AppError {
  override readonly status = 503;
  override readonly code = 'unavailable';
}
/** A feature this installation is not set up for: trying again will not help; the message says what to set. */
export class NotConfiguredError extends AppError {
  override readonly status = 503;
  override readonly code = 'not_configured';
}
/** A run cannot succeed by retrying (bad input, unparseable AI output after repair). */
export class PermanentFailure extends AppError {
  override readonly status = 422;
  override readonly code = 'permanent_failure';
}
