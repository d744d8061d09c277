/**
 * Reads `/api/stats` answers from the daily tables — never from raw events —
 * so a query costs the same on day one and day one thousand. A range's
 * `uniqueUsers` merges the per-day visitor sketches of `site_daily_rollups`
 * (the query API's rollups), so a year costs 365 small reads, not a year of visitor ids.
 */
import { LIMITS, type StatsQuery, type StatsResponse } from '@tally/shared';
import { and, asc, between, desc, eq, sql, sum } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { type Database, forEachRow, queryRows } from '../db/client.js';
import {
  siteDailyAggregates,
  siteDailyEventCounts,
  siteDailyEventVisitors,
  siteDailyPathCounts,
} from '../db/schema/index.js';
import { currentSealedMonths, monthsWithin } from './sql.js';
import { VisitorUnion } from './visitor-union.js';

/** Ties in top paths sort by path in byte order, whatever the database's collation. */
const byPath = (column: AnyPgColumn) => sql`${column} COLLATE "C"`;

interface DayTotals {
  date: string;
  totalViews: number;
  uniqueUsers: number;
}

/** Stats for one day or an inclusive range; `undefined` when nothing matches. */
export async function readStats(db: Database, query: StatsQuery): Promise<StatsResponse | undefined> {
  const limit = query.limit ?? LIMITS.statsDefaultTopPaths;
  if (query.date && !query.eventType) return readDay(db, query.siteId, query.date, limit);
  // A range takes several queries: one REPEATABLE READ snapshot for all of them, so that a fold
  // committing in between cannot make the answer contradict itself (totals below the top paths' sum).
  return db.transaction((tx) => readRange(tx as unknown as Database, query, limit), SNAPSHOT);
}

const SNAPSHOT = { isolationLevel: 'repeatable read', accessMode: 'read only' } as const;

async function readRange(db: Database, query: StatsQuery, limit: number): Promise<StatsResponse | undefined> {
  const from = query.date ?? (query.from as string);
  const to = query.date ?? (query.to as string);
  const single = from === to;
  // One after the other, all in the snapshot: they share the transaction's one connection, which runs
  // one query at a time whatever is asked of it (and pg 9 will refuse a second while one runs).
  const daily = query.eventType
    ? await eventTypeDaily(db, query.siteId, query.eventType, from, to)
    : await siteDaily(db, query.siteId, from, to);
  const topPaths = await topPathsBetween(db, query.siteId, from, to, limit, query.eventType);
  const rangeVisitors = single ? undefined : await distinctVisitors(db, query.siteId, from, to, query.eventType);
  if (daily.length === 0) return undefined;

  const totalViews = daily.reduce((total, day) => total + day.totalViews, 0);
  const uniqueUsers = rangeVisitors ?? daily[0]?.uniqueUsers ?? 0;
  const counts = { totalViews, uniqueUsers, topPaths };
  const type = query.eventType ? { eventType: query.eventType } : {};
  if (query.date) return { siteId: query.siteId, date: query.date, ...type, ...counts };
  return { siteId: query.siteId, from, to, ...type, ...counts, daily };
}

/**
 * The common question — one site, one day — in one round trip: the day's
 * totals with its top paths folded in as JSON.
 */
async function readDay(db: Database, siteId: string, date: string, limit: number): Promise<StatsResponse | undefined> {
  const [row] = await queryRows<{
    total_views: string;
    unique_users: string;
    top_paths: { path: string; views: number }[];
  }>(
    db,
    sql`
      SELECT a.total_views, a.unique_users,
        coalesce((
          SELECT json_agg(json_build_object('path', top.path, 'views', top.views) ORDER BY top.views DESC, top.path COLLATE "C")
          FROM (
            SELECT path, views FROM site_daily_path_counts
            WHERE site_id = ${siteId} AND date = ${date}
            ORDER BY views DESC, path COLLATE "C" LIMIT ${limit}
          ) top
        ), '[]'::json) AS top_paths
      FROM site_daily_aggregates a
      WHERE a.site_id = ${siteId} AND a.date = ${date}`,
  );
  if (!row) return undefined;
  return {
    siteId,
    date,
    totalViews: Number(row.total_views),
    uniqueUsers: Number(row.unique_users),
    topPaths: row.top_paths,
  };
}

async function siteDaily(db: Database, siteId: string, from: string, to: string): Promise<DayTotals[]> {
  const t = siteDailyAggregates;
  const rows = await db
    .select({ date: t.date, totalViews: t.totalViews, uniqueUsers: t.uniqueUsers })
    .from(t)
    .where(and(eq(t.siteId, siteId), between(t.date, from, to)))
    .orderBy(asc(t.date));
  return rows.map((row) => ({
    date: row.date,
    totalViews: Number(row.totalViews),
    uniqueUsers: Number(row.uniqueUsers),
  }));
}

async function eventTypeDaily(db: Database, siteId: string, eventType: string, from: string, to: string) {
  const counts = siteDailyEventCounts;
  const visitors = siteDailyEventVisitors;
  const totals = await db
    .select({ date: counts.date, totalViews: sum(counts.events).mapWith(Number) })
    .from(counts)
    .where(and(eq(counts.siteId, siteId), eq(counts.eventType, eventType), between(counts.date, from, to)))
    .groupBy(counts.date)
    .orderBy(asc(counts.date));
  const people = await db
    .select({ date: visitors.date, uniqueUsers: sql<number>`count(*)`.mapWith(Number) })
    .from(visitors)
    .where(and(eq(visitors.siteId, siteId), eq(visitors.eventType, eventType), between(visitors.date, from, to)))
    .groupBy(visitors.date);
  const peopleByDate = new Map(people.map((row) => [row.date, row.uniqueUsers]));
  return totals.map((row) => ({
    date: row.date,
    totalViews: row.totalViews,
    uniqueUsers: peopleByDate.get(row.date) ?? 0,
  }));
}

async function topPathsBetween(
  db: Database,
  siteId: string,
  from: string,
  to: string,
  limit: number,
  eventType: string | undefined,
) {
  if (eventType) {
    const t = siteDailyEventCounts;
    const views = sql<number>`sum(${t.events})`.mapWith(Number);
    return db
      .select({ path: t.path, views })
      .from(t)
      .where(and(eq(t.siteId, siteId), eq(t.eventType, eventType), between(t.date, from, to)))
      .groupBy(t.path)
      .orderBy(desc(views), byPath(t.path))
      .limit(limit);
  }
  const t = siteDailyPathCounts;
  const views = sql<number>`sum(${t.views})`.mapWith(Number);
  return db
    .select({ path: t.path, views })
    .from(t)
    .where(and(eq(t.siteId, siteId), between(t.date, from, to)))
    .groupBy(t.path)
    .orderBy(desc(views), byPath(t.path))
    .limit(limit);
}

/**
 * Visitors over a range count once however many days they came back: the
 * union of the days' visitor sketches (`site_daily_rollups`, the totals row or
 * the event type's row), and for days not sealed yet their visitor ids. Exact
 * below a few thousand visitors, an estimate within 1 % above.
 */
async function distinctVisitors(
  db: Database,
  siteId: string,
  from: string,
  to: string,
  eventType: string | undefined,
): Promise<number> {
  const [dimension, value] = eventType ? ['eventType', eventType] : ['', ''];
  // Whole sealed months are one merged sketch each; the other days are read day by day.
  const sealed = await currentSealedMonths(db, siteId, monthsWithin(from, to));
  const days = sql`r.site_id = ${siteId} AND r.dimension = ${dimension} AND r.value = ${value}
                   AND r.date BETWEEN ${from}::date AND ${to}::date
                   AND date_trunc('month', r.date)::date <> ALL(${sql.param(sealed)}::date[])`;
  const unsealed = eventType
    ? sql`SELECT DISTINCT u.visitor_id FROM site_daily_event_visitors u
          WHERE u.site_id = ${siteId} AND u.event_type = ${eventType} AND u.date = ANY(SELECT date FROM missing)`
    : sql`SELECT DISTINCT u.visitor_id FROM site_daily_unique_users u
          WHERE u.site_id = ${siteId} AND u.date = ANY(SELECT date FROM missing)`;
  // Merged as they arrive, as base64 (`forEachRow` says why; `rollupVisitors` in sql.ts, why base64).
  const union = new VisitorUnion();
  await forEachRow<{ s: string }>(
    db,
    sql`SELECT encode(r.visitors_sketch, 'base64') AS s FROM site_daily_rollups r
        WHERE ${days} AND r.visitors_sketch IS NOT NULL
        UNION ALL
        SELECT encode(m.visitors_sketch, 'base64') FROM site_monthly_rollups m
        WHERE m.site_id = ${siteId} AND m.dimension = ${dimension} AND m.value = ${value}
          AND m.month = ANY(${sql.param(sealed)}::date[])`,
    (row) => union.addSketch(Buffer.from(row.s, 'base64')),
  );
  await forEachRow<{ visitor_id: string }>(
    db,
    sql`WITH missing AS (SELECT r.date FROM site_daily_rollups r WHERE ${days} AND r.visitors_sketch IS NULL)
        ${unsealed}`,
    (row) => union.addVisitor(row.visitor_id),
  );
  return union.estimate();
}
