/**
 * CORS for the two audiences (SPEC §2): ingestion answers any page that embeds
 * the tracker (echoing its origin, with credentials so the visitor cookie
 * flows) unless `ALLOWED_ORIGINS` narrows it; stats answer only
 * `STATS_CORS_ORIGINS` (`*` for any).
 *
 * Written here rather than taken from `hono/cors` because that one sets its
 * headers on `c.res` before the route runs, which makes Hono rebuild every
 * response as a full web `Response` with a body stream — a third of the
 * ingest route's CPU. `c.header()` before `next()` costs nothing.
 */
import type { MiddlewareHandler } from 'hono';

const PREFLIGHT_MAX_AGE_SECONDS = '86400';

interface CorsOptions {
  /** The origin to echo, or null to answer without CORS headers. */
  allowOrigin(origin: string): string | null;
  methods: string;
  headers: string;
  credentials: boolean;
}

function corsFor({ allowOrigin, methods, headers, credentials }: CorsOptions): MiddlewareHandler {
  return async function corsHandler(c, next) {
    const origin = c.req.header('origin');
    const allowed = origin === undefined ? null : allowOrigin(origin);
    if (c.req.method === 'OPTIONS') {
      const preflight: Record<string, string> = { Vary: 'Origin' };
      if (allowed !== null) {
        preflight['Access-Control-Allow-Origin'] = allowed;
        preflight['Access-Control-Allow-Methods'] = methods;
        preflight['Access-Control-Allow-Headers'] = c.req.header('access-control-request-headers') ?? headers;
        preflight['Access-Control-Max-Age'] = PREFLIGHT_MAX_AGE_SECONDS;
        if (credentials) preflight['Access-Control-Allow-Credentials'] = 'true';
      }
      return c.body(null, 204, preflight);
    }
    c.header('Vary', 'Origin');
    if (allowed !== null) {
      c.header('Access-Control-Allow-Origin', allowed);
      if (credentials) c.header('Access-Control-Allow-Credentials', 'true');
    }
    await next();
  };
}

export function ingestCors({ allowedOrigins }: { allowedOrigins: string[] }): MiddlewareHandler {
  const allowed = new Set(allowedOrigins);
  return corsFor({
    allowOrigin: (origin) => (allowed.size === 0 || allowed.has(origin) ? origin : null),
    methods: 'POST, OPTIONS',
    headers: 'Content-Type',
    credentials: true,
  });
}

export function statsCors({
  allowedOrigins,
  methods = 'GET, OPTIONS',
}: {
  allowedOrigins: string[];
  methods?: string;
}): MiddlewareHandler {
  const any = allowedOrigins.includes('*');
  const allowed = new Set(allowedOrigins);
  return corsFor({
    allowOrigin: (origin) => (any || allowed.has(origin) ? origin : null),
    methods,
    headers: 'Authorization, Content-Type',
    credentials: false,
  });
}
