/**
 * Who may ask `POST /api/query` (SPEC §12, §13). With `STATS_API_KEYS` set, one of:
 * a stats key as a bearer token (backends); the dashboard's session cookie on a
 * same-origin request (the dashboard's own script, after a key login); the site's
 * share secret in `X-Tally-Share` (a share link); or nothing at all for a
 * `public` site. The site is the body's `siteId`. No keys configured: open, as
 * `/api/stats` is.
 */
import type { MiddlewareHandler } from 'hono';
import {
  bearerToken,
  hasSession,
  isStatsKey,
  type Sessions,
  SHARE_HEADER,
  type SiteAccessLookup,
  shareOpens,
} from '../dashboard/access.js';
import { UnauthorizedError } from '../errors.js';

/** How a request was let in, for the routes behind the gate. */
export type StatsAccessGrant = 'open' | 'key' | 'session' | 'share' | 'public';

declare module 'hono' {
  interface ContextVariableMap {
    statsAccess?: StatsAccessGrant;
  }
}

export interface StatsAccessOptions {
  keys: readonly string[];
  sessions: Sessions;
  lookupSite: SiteAccessLookup;
  realm?: string;
}

/** The `siteId` of a JSON body, or `undefined` when there is none to read. */
async function bodySiteId(read: () => Promise<unknown>): Promise<string | undefined> {
  try {
    const body = await read();
    const siteId = (body as { siteId?: unknown } | null)?.siteId;
    return typeof siteId === 'string' ? siteId : undefined;
  } catch {
    return undefined; // malformed JSON: the route itself says so, once access is settled
  }
}

export function statsAccess({
  keys,
  sessions,
  lookupSite,
  realm = 'Tally stats',
}: StatsAccessOptions): MiddlewareHandler {
  if (keys.length === 0) {
    return async function openStatsAccess(c, next) {
      c.set('statsAccess', 'open');
      await next();
    };
  }
  const challenge = `Bearer realm="${realm}"`;
  return async function statsAccessHandler(c, next) {
    const token = bearerToken(c);
    if (token !== undefined) {
      if (!isStatsKey(keys, token)) throw new UnauthorizedError('Missing or invalid API key', challenge);
      c.set('statsAccess', 'key');
      return next();
    }
    if (hasSession(c, sessions)) {
      c.set('statsAccess', 'session');
      return next();
    }
    if (c.req.method === 'POST') {
      // The parsed body is cached by Hono, so the route reads it again for free.
      const siteId = await bodySiteId(() => c.req.json());
      const site = siteId === undefined ? undefined : await lookupSite(siteId);
      const grant = site?.public ? 'public' : shareOpens(site, c.req.header(SHARE_HEADER)) ? 'share' : undefined;
      if (grant) {
        c.set('statsAccess', grant);
        return next();
      }
    }
    throw new UnauthorizedError('Missing or invalid API key', challenge);
  };
}
