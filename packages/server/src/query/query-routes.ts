/**
 * `POST /api/query` (SPEC §12): parse with the shared schema, plan with the
 * site's time zone and first day, run (`run.ts` → `sql.ts`), answer JSON or
 * stream CSV. Stats keys apply unless the site is `public`.
 */
import { formatIssues, queryRequestSchema, siteIdSchema } from '@tally/shared';
import { sql } from 'drizzle-orm';
import { type Context, Hono } from 'hono';
import { type Database, queryRows } from '../db/client.js';
import { ValidationError } from '../errors.js';
import { apiKeyAuth } from '../http/api-key.js';
import { csvStream } from './csv.js';
import { planQuery } from './plan.js';
import { runQuery } from './run.js';

export interface QueryRoutesOptions {
  db: Database;
  statsKeys: readonly string[];
  /** "Now", for named ranges and `realtime`; the clock when absent. */
  now?: () => Date;
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

function wantsCsv(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  return /\btext\/csv\b/i.test(accept);
}

export function queryRoutes({ db, statsKeys, now = () => new Date() }: QueryRoutesOptions) {
  const requireKey = apiKeyAuth({ keys: statsKeys });
  return new Hono().post('/', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ValidationError(['body must be valid JSON']);
    }
    const claimedSite = typeof body === 'object' && body !== null ? (body as { siteId?: unknown }).siteId : undefined;
    const siteId = siteIdSchema.safeParse(claimedSite);
    const site = siteId.success ? await readSite(db, siteId.data) : undefined;
    // A public site needs no key; any other request is refused before its body is judged, unless the
    // app's `statsAccess` gate in front already let it in (a dashboard session or share link).
    if (site?.public !== true && c.get('statsAccess') === undefined) await requireKey(c, async () => {});

    const parsed = queryRequestSchema.safeParse(body);
    if (!parsed.success) throw new ValidationError(formatIssues(parsed.error.issues));
    const format = wantsCsv(c) ? 'csv' : parsed.data.format;
    const plan = planQuery(
      { ...parsed.data, format },
      { timeZone: site?.time_zone ?? 'UTC', now: now(), firstEventDay: site?.first_day ?? null },
    );
    const answer = await runQuery(db, plan);
    if (format === 'csv') {
      return c.body(csvStream(answer.meta, answer.results), 200, {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="${plan.siteId}-query.csv"`,
      });
    }
    return c.json(answer);
  });
}
