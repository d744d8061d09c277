/**
 * CORS for the two audiences (SPEC §2): ingestion answers any page that embeds
 * the tracker (echoing its origin, with credentials so the visitor cookie
 * flows) unless `ALLOWED_ORIGINS` narrows it; stats answer only
 * `STATS_CORS_ORIGINS` (`*` for any).
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

const PREFLIGHT_MAX_AGE_SECONDS = 86_400;

export function ingestCors({ allowedOrigins }: { allowedOrigins: string[] }): MiddlewareHandler {
  const allowed = new Set(allowedOrigins);
  return cors({
    origin: (origin) => (allowed.size === 0 || allowed.has(origin) ? origin : null),
    allowMethods: ['POST', 'OPTIONS'],
    allowHeaders: ['Content-Type'],
    credentials: true,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  });
}

export function statsCors({ allowedOrigins }: { allowedOrigins: string[] }): MiddlewareHandler {
  const any = allowedOrigins.includes('*');
  const allowed = new Set(allowedOrigins);
  return cors({
    origin: (origin) => (any || allowed.has(origin) ? origin : null),
    allowMethods: ['GET', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type'],
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  });
}
