/**
 * Bearer API keys for `/api/stats` (`STATS_API_KEYS`). Keys are compared as
 * SHA-256 digests with `timingSafeEqual`, against every configured key without
 * stopping early, so neither a key's content nor its length shows in the
 * response time. No keys configured: a pass-through.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { UnauthorizedError } from '../errors.js';

export interface ApiKeyOptions {
  keys: readonly string[];
  realm?: string;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

const digest = (value: string) => createHash('sha256').update(value).digest();

export function apiKeyAuth({ keys, realm = 'Tally stats' }: ApiKeyOptions): MiddlewareHandler {
  if (keys.length === 0) {
    return async function noApiKey(_c, next) {
      await next();
    };
  }
  const digests = keys.map(digest);
  const challenge = `Bearer realm="${realm}"`;
  return async function apiKeyAuthHandler(c, next) {
    const token = BEARER.exec(c.req.header('authorization') ?? '')?.[1];
    // A missing token is hashed like any other, so it takes the same time to refuse.
    const presented = digest(token ?? '');
    let matched = false;
    for (const known of digests) matched = timingSafeEqual(known, presented) || matched;
    if (!token || !matched) throw new UnauthorizedError('Missing or invalid API key', challenge);
    await next();
  };
}
