/**
 * Which site-local days have their visitor sketches (`worker/sketches.ts`):
 * a day is sealed once no on-time event can reach it any more; `events` is
 * the day's event count at sealing, so a later (late) event shows the seal is
 * stale and the day is sealed again.
 */
import { bigint, date, pgTable, primaryKey, timestamp } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';

export const siteDaySeals = pgTable(
  'site_day_seals',
  {
    siteId: keyText('site_id').notNull(),
    date: date('date').notNull(),
    events: bigint('events', { mode: 'number' }).notNull(),
    sealedAt: timestamp('sealed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.siteId, table.date] })],
);
