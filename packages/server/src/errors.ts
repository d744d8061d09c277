/**
 * The errors the server answers with, each a named class, and the one function
 * that maps any thrown value to the one error shape (SPEC §2).
 */
import type { ErrorResponse } from '@tally/shared';

export abstract class HttpError extends Error {
  abstract readonly statusCode: number;
  abstract readonly error: string;
  readonly headers: Record<string, string> = {};
  readonly messages: string | string[];

  constructor(messages: string | string[]) {
    super(Array.isArray(messages) ? messages.join('; ') : messages);
    this.messages = messages;
  }

  toResponse(): ErrorResponse {
    return { statusCode: this.statusCode, message: this.messages, error: this.error };
  }
}

export class ValidationError extends HttpError {
  readonly statusCode = 400;
  readonly error = 'Bad Request';
  constructor(messages: string[]) {
    super(messages);
    this.name = 'ValidationError';
  }
}

export class UnauthorizedError extends HttpError {
  readonly statusCode = 401;
  readonly error = 'Unauthorized';
  constructor(message = 'Missing or invalid credentials', challenge?: string) {
    super(message);
    this.name = 'UnauthorizedError';
    if (challenge) this.headers['WWW-Authenticate'] = challenge;
  }
}

export class ForbiddenError extends HttpError {
  readonly statusCode = 403;
  readonly error = 'Forbidden';
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

export class NotFoundError extends HttpError {
  readonly statusCode = 404;
  readonly error = 'Not Found';
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export class MethodNotAllowedError extends HttpError {
  readonly statusCode = 405;
  readonly error = 'Method Not Allowed';
  constructor(method: string, allowed: string[]) {
    super(`Method ${method} is not allowed here; use ${allowed.join(', ')}`);
    this.name = 'MethodNotAllowedError';
    this.headers.Allow = allowed.join(', ');
  }
}

export class PayloadTooLargeError extends HttpError {
  readonly statusCode = 413;
  readonly error = 'Payload Too Large';
  constructor(limit: number) {
    super(`Request body must be at most ${limit} bytes`);
    this.name = 'PayloadTooLargeError';
  }
}

export class UnsupportedMediaTypeError extends HttpError {
  readonly statusCode = 415;
  readonly error = 'Unsupported Media Type';
  constructor(contentType: string) {
    super(`Content-Type ${contentType || '(none)'} is not supported; send application/json or text/plain`);
    this.name = 'UnsupportedMediaTypeError';
  }
}

/** A rate limit is used up for this window; `Retry-After` says when the next one starts. */
export class TooManyRequestsError extends HttpError {
  readonly statusCode = 429;
  readonly error = 'Too Many Requests';
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'TooManyRequestsError';
    this.headers['Retry-After'] = String(retryAfterSeconds);
  }
}

/** Redis (the queue) cannot take events right now; the client should retry. */
export class QueueUnavailableError extends HttpError {
  readonly statusCode = 503;
  readonly error = 'Service Unavailable';
  constructor(retryAfterSeconds = 5) {
    super('The event queue is unavailable; retry later');
    this.name = 'QueueUnavailableError';
    this.headers['Retry-After'] = String(retryAfterSeconds);
  }
}

/**
 * PostgreSQL cannot be reached. The stats API answers 503; a worker puts the
 * job back without spending one of its attempts, so an outage of any length
 * loses nothing (see `queue/events-queue.ts`).
 */
export class DatabaseUnavailableError extends HttpError {
  readonly statusCode = 503;
  readonly error = 'Service Unavailable';
  constructor(cause?: unknown) {
    super('The database is unavailable; retry later');
    this.name = 'DatabaseUnavailableError';
    this.cause = cause;
    this.headers['Retry-After'] = '5';
  }
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);
// SQLSTATE class 08 (connection exception), 57P01–57P03 (shutting down, cannot connect now), 53300 (too many connections).
const CONNECTION_SQLSTATE = /^(08...|57P0[123]|53300)$/;
const CONNECTION_MESSAGE =
  /connection terminated|timeout exceeded when trying to connect|connection error|not queryable/i;

/** True when `error` (or its cause) says the database could not be reached, rather than that a query was wrong. */
export function isDatabaseConnectionError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || CONNECTION_SQLSTATE.test(code))) return true;
    if (CONNECTION_MESSAGE.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}

export class InternalError extends HttpError {
  readonly statusCode = 500;
  readonly error = 'Internal Server Error';
  constructor() {
    super('Internal server error');
    this.name = 'InternalError';
  }
}

/** Every failure becomes an `HttpError`; anything unexpected hides its details behind a 500. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (isDatabaseConnectionError(error)) return new DatabaseUnavailableError(error);
  return new InternalError();
}
