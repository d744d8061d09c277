/**
 * Rollups of dimension pairs, for a breakdown filtered on another dimension
 * (`query/pairs.ts`): per site, sealed site-local day (or sealed month), filter
 * dimension and value (a visit attribute) and breakdown dimension, one row
 * holding every breakdown value seen with it — `values[i]` has `events[i]`
 * events and `pageviews[i]` page views in the visits matching the filter, and
 * its visitor sketch is `sketches` from byte `sketch_ends[i - 1]` (0 for the
 * first) to `sketch_ends[i]`. Packed so that a day is a few hundred rows, not
 * tens of thousands. Only a few pairs are kept (`PAIR_FILTERS` ×
 * `PAIR_DIMENSIONS`); they are written when a day is sealed and merged when a
 * month is. The row with empty dimensions and values is the day's (month's)
 * marker: `events[1]` is the site's event count the pairs were made from, so
 * they are read only while it still equals `site_daily_aggregates` (-1: the
 * day could not be paired).
 */
import { bigint, date, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';
import { bytea } from './site-daily-rollups.js';

const pairColumns = () => ({
  siteId: keyText('site_id').notNull(),
  filterDimension: keyText('filter_dimension').notNull(),
  filterValue: keyText('filter_value').notNull(),
  dimension: keyText('dimension').notNull(),
  values: text('values').array().notNull(),
  events: bigint('events', { mode: 'number' }).array().notNull(),
  pageviews: bigint('pageviews', { mode: 'number' }).array().notNull(),
  sketchEnds: integer('sketch_ends').array().notNull(),
  sketches: bytea('sketches').notNull(),
});

export const siteDailyPairRollups = pgTable(
  'site_daily_pair_rollups',
  { ...pairColumns(), date: date('date').notNull() },
  (table) => [
    primaryKey({
      name: 'site_daily_pair_rollups_pk',
      columns: [table.siteId, table.filterDimension, table.dimension, table.filterValue, table.date],
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
      columns: [table.siteId, table.filterDimension, table.dimension, table.filterValue, table.month],
    }),
  ],
);
