/**
 * The embedded default (PGlite) seals weeks and months too: their sketches
 * travel as base64 text, as the day seals send them, since PGlite takes no
 * `bytea[]` parameter of strings.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openEmbeddedDatabase } from '../db/embedded.js';
import { foldBatch } from '../worker/fold-batch.js';
import { sealDueDays } from '../worker/sketches.js';
import { DEFAULT_VISIT_RULES } from '../worker/visits.js';
import { sealPendingPeriods } from './periods.js';

it('seals the weeks and months of a site on PGlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgl-'));
  const database = await openEmbeddedDatabase(dir);
  // Every day of November 2024, three visitors a day, two pages each.
  const events = Array.from({ length: 30 * 6 }, (_, i) => {
    const timestamp = new Date(Date.parse('2024-11-01T10:00:00Z') + Math.floor(i / 6) * 86_400_000 + (i % 2) * 60_000);
    return {
      eventId: randomUUID(),
      siteId: 's',
      eventType: 'page_view',
      path: `/p${i % 2}`,
      timestamp: timestamp.toISOString(),
      visitorId: `v${Math.floor(i / 2) % 3}`,
      receivedAt: timestamp.getTime() + 1_000,
    };
  });
  await foldBatch(database.db, events);
  while ((await sealDueDays(database.db, DEFAULT_VISIT_RULES)) > 0) {}
  const rules = { lateEventHours: DEFAULT_VISIT_RULES.lateEventHours };
  // The ISO weeks of Monday 28 October to Monday 25 November, and November.
  expect(await sealPendingPeriods(database.db, 'week', rules)).toBe(5);
  expect(await sealPendingPeriods(database.db, 'month', rules)).toBe(1);
  const totals = (await database.db.execute(
    `select (select sum(events)::int from site_weekly_rollups where dimension = '' and value = '') as weeks,
            (select events::int from site_monthly_rollups where dimension = '' and value = '') as month,
            (select visitors_estimate::int from site_monthly_rollups where dimension = 'path' and value = '/p0') as p0` as never,
  )) as unknown as { rows: unknown[] };
  expect(totals.rows).toEqual([{ weeks: 180, month: 180, p0: 3 }]);
  await database.close();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);
