/** Answers 405 with `Allow` for a known path asked with a method it does not serve. */
import type { MiddlewareHandler } from 'hono';
import { MethodNotAllowedError } from '../errors.js';

export function methodNotAllowed(allowed: string[]): MiddlewareHandler {
  return async function methodNotAllowedHandler(c) {
    throw new MethodNotAllowedError(c.req.method, allowed);
  };
}
