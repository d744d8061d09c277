/**
 * SPEC §9: one row per site, created by its first accepted event (the fold's
 * `ON CONFLICT DO NOTHING`) or by `PUT /api/sites/:siteId`. `rollups_time_zone`
 * is the zone the site's daily figures were folded in: it differs from
 * `time_zone` while a re-fold is pending (`worker/refold.ts`).
 */
import { sql } from 'drizzle-orm';
import { boolean, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { keyText } from './key-text.js';

export const sites = pgTable('sites', {
  siteId: keyText('site_id').primaryKey(),
  timeZone: text('time_zone').notNull().default('UTC'),
  public: boolean('public').notNull().default(false),
  allowedHostnames: text('allowed_hostnames').array(),
  /** The dashboard's share-link secret; null until one is made. */
  shareSecret: text('share_secret'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  rollupsTimeZone: text('rollups_time_zone').notNull().default('UTC'),
});
