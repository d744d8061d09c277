/**
 * Answers 503 (with `Retry-After`) on routes that read the database while it
 * is not ready yet: a process started with PostgreSQL down serves at once and
 * migrates when it comes, and until then these routes must not meet missing
 * tables.
 */
import type { MiddlewareHandler } from 'hono';
import { DatabaseUnavailableError } from '../errors.js';

export function requireDatabase({ isReady }: { isReady: () => boolean }): MiddlewareHandler {
  return async function requireDatabase(_c, next) {
    if (!isReady()) throw new DatabaseUnavailableError();
    await next();
  };
}
