/**
 * What the query API reads (docs/storage.md has the exact rules): per site,
 * site-local day, dimension and value, the counters of that slice. Dimension
 * `''` with value `''` holds the site's totals. Visit metrics (visits, bounces,
 * duration_s) sit on the day the visit started; events and pageviews of
 * event-level dimensions (`path`, `eventType`, `props:<key>`, totals) on the
 * event's own day, those of visit-level dimensions on the visit's day.
 * `visitors_sketch` (a HyperLogLog, `query/sketches.ts`) and `visitors_sum`
 * are filled when the day is sealed (`worker/sketches.ts`).
 */
import { bigint, customType, date, index, pgTable, primaryKey } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';

export const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

/** The counters of one slice (site, day or month, dimension, value): the daily and the monthly rollups share them. */
export const rollupCounters = () => ({
  events: bigint('events', { mode: 'number' }).notNull().default(0),
  pageviews: bigint('pageviews', { mode: 'number' }).notNull().default(0),
  visits: bigint('visits', { mode: 'number' }).notNull().default(0),
  bounces: bigint('bounces', { mode: 'number' }).notNull().default(0),
  durationS: bigint('duration_s', { mode: 'number' }).notNull().default(0),
});

export const siteDailyRollups = pgTable(
  'site_daily_rollups',
  {
    siteId: keyText('site_id').notNull(),
    date: date('date').notNull(),
    dimension: keyText('dimension').notNull(),
    value: keyText('value').notNull(),
    ...rollupCounters(),
    visitorsSum: bigint('visitors_sum', { mode: 'number' }),
    visitorsSketch: bytea('visitors_sketch'),
  },
  (table) => [
    primaryKey({ columns: [table.siteId, table.date, table.dimension, table.value] }),
    // The query API reads one dimension over a range of days (`query/sql.ts`).
    index('idx_rollups_site_dimension_date').on(table.siteId, table.dimension, table.date),
  ],
);
