/**
 * The sites API (SPEC §9), mounted at `/api/sites`. Reads take a stats key
 * when `STATS_API_KEYS` is set; writes take `ADMIN_API_KEY` as a bearer token
 * and are refused (403) when none is configured.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { formatIssues, type Site, siteIdSchema, siteSettingsSchema } from '@tally/shared';
import { Hono, type MiddlewareHandler } from 'hono';
import type { Database } from '../db/client.js';
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../errors.js';
import { apiKeyAuth } from '../http/api-key.js';
import type { SiteSettingsCache } from './settings-cache.js';
import { deleteSite, getSite, listSites, putSite } from './store.js';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const digest = (value: string) => createHash('sha256').update(value).digest();

/** `ADMIN_API_KEY` as a bearer token; every write refused when it is not configured. */
export function adminAuth(adminKey: string | undefined): MiddlewareHandler {
  const expected = adminKey ? digest(adminKey) : undefined;
  return async function adminAuthHandler(c, next) {
    if (!expected) throw new ForbiddenError('Site changes are disabled: set ADMIN_API_KEY to allow them');
    const token = BEARER.exec(c.req.header('authorization') ?? '')?.[1];
    if (!token || !timingSafeEqual(digest(token), expected)) {
      throw new UnauthorizedError('Missing or invalid admin API key', 'Bearer realm="Tally admin"');
    }
    await next();
  };
}

function siteIdOf(value: string): string {
  const parsed = siteIdSchema.safeParse(value);
  if (!parsed.success) throw new ValidationError(formatIssues(parsed.error.issues));
  return parsed.data;
}

export interface SitesRoutesOptions {
  db: Database;
  statsKeys: readonly string[];
  adminKey: string | undefined;
  /** Ingestion's settings cache, told of this process's own changes. */
  settings?: SiteSettingsCache;
  /** Called after a site's time zone changed, to start its re-fold now rather than at the next poll. */
  onTimeZoneChanged?: (siteId: string) => void;
  /** Called after a site's settings were written (what was cached about it may be stale). */
  onChanged?: (siteId: string) => void;
  /** Called after a site and its data were deleted. */
  onDeleted?: (siteId: string) => void;
}

export function sitesRoutes({
  db,
  statsKeys,
  adminKey,
  settings,
  onTimeZoneChanged,
  onChanged,
  onDeleted,
}: SitesRoutesOptions) {
  const read = apiKeyAuth({ keys: statsKeys });
  const write = adminAuth(adminKey);
  return new Hono()
    .get('/', read, async (c) => c.json({ sites: await listSites(db) }))
    .get('/:siteId', read, async (c) => {
      const siteId = siteIdOf(c.req.param('siteId'));
      const site = await getSite(db, siteId);
      if (!site) throw new NotFoundError(`No site ${siteId}`);
      return c.json<Site>(site);
    })
    .put('/:siteId', write, async (c) => {
      const siteId = siteIdOf(c.req.param('siteId'));
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new ValidationError(['body must be valid JSON']);
      }
      const parsed = siteSettingsSchema.safeParse(body);
      if (!parsed.success) throw new ValidationError(formatIssues(parsed.error.issues));
      const before = await getSite(db, siteId);
      const created = await putSite(db, siteId, parsed.data);
      settings?.forget(siteId);
      onChanged?.(siteId);
      const site = (await getSite(db, siteId)) as Site;
      if (before && before.timeZone !== site.timeZone) onTimeZoneChanged?.(siteId);
      return c.json<Site>(site, created ? 201 : 200);
    })
    .delete('/:siteId', write, async (c) => {
      const siteId = siteIdOf(c.req.param('siteId'));
      if (!(await deleteSite(db, siteId))) throw new NotFoundError(`No site ${siteId}`);
      settings?.forget(siteId);
      onDeleted?.(siteId);
      return c.body(null, 204);
    });
}
