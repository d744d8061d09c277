/**
 * Basic auth for the operator pages (API docs, Bull Board) when both a user and
 * a password are configured, and a pass-through otherwise. A refusal answers in
 * the one error shape, with the `WWW-Authenticate` challenge browsers need.
 */
import type { MiddlewareHandler } from 'hono';
import { basicAuth } from 'hono/basic-auth';
import { UnauthorizedError } from '../errors.js';

export interface OptionalBasicAuthOptions {
  username?: string;
  password?: string;
  realm: string;
}

export function optionalBasicAuth({ username, password, realm }: OptionalBasicAuthOptions): MiddlewareHandler {
  if (!username || !password) {
    return async function noAuth(_c, next) {
      await next();
    };
  }
  const check = basicAuth({ username, password, realm });
  return async function optionalBasicAuthHandler(c, next) {
    try {
      return await check(c, next);
    } catch (error) {
      // hono throws an HTTPException carrying the challenge; answer it in the one error shape instead.
      if ((error as { status?: number }).status === 401) {
        throw new UnauthorizedError('Missing or invalid credentials', `Basic realm="${realm}"`);
      }
      throw error;
    }
  };
}
