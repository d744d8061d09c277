/**
 * Rollups of dimension pairs, for a breakdown filtered on another dimension
 * (`query/pairs.ts`): per site, sealed site-local day (or sealed month), filter
 * dimension and value, breakdown dimension and value, the events and page views
 * of the visits matching the filter and a visitor sketch. Only a few pairs are
 * kept (`PAIR_FILTERS` × `PAIR_DIMENSIONS` in `worker/sketches.ts`); they are
 * written when a day is sealed and merged when a month is. The row with empty
 * dimensions and values is the day's (month's) marker: `events` holds the
 * site's event count the pairs were made from, so they are read only while it
 * still equals `site_daily_aggregates` (-1: the day could not be paired).
 */
import { bigint, date, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { bytea } from './site-daily-rollups.js';

const pairColumns = () => ({
  siteId: text('site_id').notNull(),
  filterDimension: text('filter_dimension').notNull(),
  filterValue: text('filter_value').notNull(),
  dimension: text('dimension').notNull(),
  value: text('value').notNull(),
  events: bigint('events', { mode: 'number' }).notNull().default(0),
  pageviews: bigint('pageviews', { mode: 'number' }).notNull().default(0),
  visitorsSketch: bytea('visitors_sketch'),
});

export const siteDailyPairRollups = pgTable(
  'site_daily_pair_rollups',
  { ...pairColumns(), date: date('date').notNull() },
  (table) => [
    primaryKey({
      name: 'site_daily_pair_rollups_pk',
      columns: [table.siteId, table.filterDimension, table.dimension, table.filterValue, table.date, table.value],
    }),
  ],
);

export const siteMonthlyPairRollups = pgTable(
  'site_monthly_pair_rollups',
  {
    ...pairColumns(),
    /** The month's first day (site-local). */
    month: date('month').notNull(),
  },
  (table) => [
    primaryKey({
      name: 'site_monthly_pair_rollups_pk',
      columns: [table.siteId, table.filterDimension, table.dimension, table.filterValue, table.month, table.value],
    }),
  ],
);
