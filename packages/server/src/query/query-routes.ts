/**
 * `POST /api/query` (SPEC §12): parse with the shared schema, plan with the
 * site's time zone and first day, run (`run.ts` → `sql.ts`), answer JSON or
 * stream CSV. Stats keys apply unless the site is `public`. Answers are
 * cached per site under the resolved plan (`answerKey`), as JSON: a CSV
 * request is written from the same entry. This process's folds of a site
 * drop its entries (`answer-cache.ts`); `realtime` is never cached, and
 * `Cache-Control: no-cache` recomputes (and refreshes the entry). The site's
 * own facts (zone, `public`, first day) sit in the same cache beside its
 * answers, so a repeated question never waits on PostgreSQL: they go with the
 * answers when this process folds, changes (`PUT /api/sites`) or deletes the
 * site, and other processes see a change within the cache's TTL.
 */
import { formatIssues, queryRequestSchema, siteIdSchema } from '@tally/shared';
import { sql } from 'drizzle-orm';
import { type Context, Hono } from 'hono';
import { type Database, queryRows } from '../db/client.js';
import { ValidationError } from '../errors.js';
import { apiKeyAuth } from '../http/api-key.js';
import type { AnswerCache } from './answer-cache.js';
import { csvStream } from './csv.js';
import { answerKey, planQuery } from './plan.js';
import { type QueryAnswer, runQuery } from './run.js';

export interface QueryRoutesOptions {
  db: Database;
  statsKeys: readonly string[];
  /** "Now", for named ranges and `realtime`; the clock when absent. */
  now?: () => Date;
  /** Answers already computed (`QUERY_CACHE_MS`); every answer is computed when absent. */
  cache?: AnswerCache;
}

interface SiteRow {
  time_zone: string;
  public: boolean;
  first_day: string | null;
}

/** The site's zone, whether it is public, and its first day of events; an unknown site is a private UTC site with none. */
async function readSite(db: Database, siteId: string): Promise<SiteRow> {
  const [row] = await queryRows<SiteRow>(
    db,
    sql`SELECT s.time_zone, s.public,
          (SELECT min(a.date)::text FROM site_daily_aggregates a WHERE a.site_id = ${siteId}) AS first_day
        FROM sites s WHERE s.site_id = ${siteId}`,
  );
  return row ?? { time_zone: 'UTC', public: false, first_day: null };
}

/** The answer-cache key of a site's facts: no answer's key (a plan, as JSON) can be it. */
const SITE_FACTS_KEY = 'site';

/**
 * `readSite` through the answer cache, under the mark the request took before reading anything, and
 * as the request's `Cache-Control` says: `no-cache` reads the site again, `no-store` keeps it out.
 */
async function readSiteCached(
  db: Database,
  siteId: string,
  cache: AnswerCache | undefined,
  generation: number,
  directives: { read: boolean; store: boolean },
) {
  const cached = directives.read ? cache?.get(siteId, SITE_FACTS_KEY) : undefined;
  if (cached) return JSON.parse(cached.body) as SiteRow;
  const site = await readSite(db, siteId);
  if (directives.store) cache?.set(siteId, SITE_FACTS_KEY, { status: 200, body: JSON.stringify(site) }, generation);
  return site;
}

function wantsCsv(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  return /\btext\/csv\b/i.test(accept);
}

/** `no-cache` asks for a computed answer (which then refreshes the entry); `no-store` also keeps it out. */
function cacheDirectives(c: Context): { read: boolean; store: boolean } {
  const control = c.req.header('cache-control') ?? '';
  const noStore = /\bno-store\b/i.test(control);
  return { read: !noStore && !/\bno-cache\b/i.test(control), store: !noStore };
}

export function queryRoutes({ db, statsKeys, now = () => new Date(), cache }: QueryRoutesOptions) {
  const requireKey = apiKeyAuth({ keys: statsKeys });
  return new Hono().post('/', async (c) => {
    // Taken before anything is read (the site's first day too): a fold committing after it keeps this answer out.
    const generation = cache?.generation() ?? 0;
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ValidationError(['body must be valid JSON']);
    }
    const directives = cacheDirectives(c);
    const claimedSite = typeof body === 'object' && body !== null ? (body as { siteId?: unknown }).siteId : undefined;
    const siteId = siteIdSchema.safeParse(claimedSite);
    const site = siteId.success ? await readSiteCached(db, siteId.data, cache, generation, directives) : undefined;
    // A public site needs no key; any other request is refused before its body is judged, unless the
    // app's `statsAccess` gate in front already let it in (a dashboard session or share link).
    if (site?.public !== true && c.get('statsAccess') === undefined) await requireKey(c, async () => {});

    const parsed = queryRequestSchema.safeParse(body);
    if (!parsed.success) throw new ValidationError(formatIssues(parsed.error.issues));
    const format = wantsCsv(c) ? 'csv' : parsed.data.format;
    const context = { timeZone: site?.time_zone ?? 'UTC', now: now(), firstEventDay: site?.first_day ?? null };
    const querySite = parsed.data.siteId;
    // Looked up before planning: a plan's time buckets cost more than a cached answer.
    const key = cache ? answerKey(parsed.data, context) : undefined;
    const cached = key !== undefined && directives.read ? cache?.get(querySite, key) : undefined;
    let json = cached?.body;
    let answer: QueryAnswer | undefined;
    if (json === undefined) {
      answer = await runQuery(db, planQuery({ ...parsed.data, format }, context));
      if (key !== undefined && directives.store) {
        json = JSON.stringify(answer);
        cache?.set(querySite, key, { status: 200, body: json }, generation);
      }
    }
    const source = { 'X-Tally-Cache': cached ? 'hit' : 'miss' };
    if (format === 'csv') {
      const { meta, results } = answer ?? (JSON.parse(json as string) as QueryAnswer);
      return c.body(csvStream(meta, results), 200, {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="${querySite}-query.csv"`,
        ...source,
      });
    }
    return c.body(json ?? JSON.stringify(answer), 200, { 'Content-Type': 'application/json', ...source });
  });
}
