/**
 * Events per site, UTC day and path: the source of `topPaths`. The original
 * design's `(site_id, date, views DESC)` index is left out: `views` changes on
 * every fold, so that index cost an index write per path per fold and kept
 * updates from being HOT, while sorting one day's paths for the top 10 is
 * cheap. The table is created with `fillfactor = 70` (migration 0002) so that
 * counter updates stay on their page.
 */
import { bigint, date, pgTable, primaryKey } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';

export const siteDailyPathCounts = pgTable(
  'site_daily_path_counts',
  {
    siteId: keyText('site_id').notNull(),
    date: date('date').notNull(),
    path: keyText('path').notNull(),
    views: bigint('views', { mode: 'number' }).notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.siteId, table.date, table.path] })],
);
