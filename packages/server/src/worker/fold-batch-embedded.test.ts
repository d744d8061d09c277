/**
 * The embedded default (PGlite, one connection) folds a large batch in visitor
 * parts too: PGlite runs one transaction at a time, so the parts take turns
 * instead of deadlocking on its single connection, and the counts are exact.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openEmbeddedDatabase } from '../db/embedded.js';
import { foldBatch } from './fold-batch.js';

it('folds a batch cut into visitor parts with exact totals and visits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgl-'));
  const database = await openEmbeddedDatabase(dir);
  const events = Array.from({ length: 1500 }, (_, i) => ({
    eventId: randomUUID(),
    siteId: 's',
    eventType: 'page_view',
    path: `/p${i % 7}`,
    timestamp: '2026-12-01T12:00:00.000Z',
    visitorId: `v${i % 300}`,
    receivedAt: Date.parse('2026-12-01T12:00:01.000Z'),
  }));
  // 1,500 events: over the size at which a batch is cut into parts.
  const result = await foldBatch(database.db, events);
  expect(result).toEqual({ inserted: 1500, duplicates: 0 });
  const rows = (await database.db.execute(
    'select total_views::int as t, unique_users::int as u from site_daily_aggregates' as never,
  )) as unknown as { rows: unknown[] };
  expect(rows.rows).toEqual([{ t: 1500, u: 300 }]);
  const visits = (await database.db.execute(
    'select count(*)::int as n, sum(events)::int as e from visits' as never,
  )) as unknown as { rows: unknown[] };
  expect(visits.rows).toEqual([{ n: 300, e: 1500 }]);
  await database.close();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);
