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
  return new InternalError();
}
