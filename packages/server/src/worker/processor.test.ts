import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, silentLogger, type TestDatabase } from '../../test/support.js';
import { connectPostgres, type DatabaseHandle, queryRows } from '../db/client.js';
import type { FoldResult, QueuedEvent } from '../queue/types.js';
import { createBatchProcessor } from './processor.js';

const event = (siteId: string, overrides: Partial<QueuedEvent> = {}): QueuedEvent => ({
  eventId: crypto.randomUUID(),
  visitorId: crypto.randomUUID(),
  siteId,
  eventType: 'page_view',
  path: '/',
  timestamp: '2024-11-14T10:00:00Z',
  receivedAt: Date.now(),
  ...overrides,
});

describe('createBatchProcessor', () => {
  let testDatabase: TestDatabase;
  let database: DatabaseHandle;
  const views = async (siteId: string) => {
    const [row] = await queryRows<{ n: number }>(
      database.db,
      sql`select coalesce(sum(total_views), 0)::int as n from site_daily_aggregates where site_id = ${siteId}`,
    );
    return row?.n;
  };

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = connectPostgres(testDatabase.url, 4);
  });
  afterAll(async () => {
    await database?.close();
    await testDatabase?.drop();
  });

  it('folds jobs that run at the same time in shared transactions, counting every event', async () => {
    const folds: FoldResult[] = [];
    const processBatch = createBatchProcessor({
      db: database.db,
      logger: silentLogger,
      onFolded: (result) => folds.push(result),
    });
    const jobs = Array.from({ length: 12 }, () => Array.from({ length: 50 }, () => event('shared')));
    await Promise.all(jobs.map((events) => processBatch(events)));
    expect(await views('shared')).toBe(600);
    expect(folds.reduce((sum, fold) => sum + fold.inserted, 0)).toBe(600);
    expect(folds.length).toBeLessThan(jobs.length);
  });

  it('a poison event is parked alone: its job and the jobs it shared a fold with still count', async () => {
    const parked: string[] = [];
    const processBatch = createBatchProcessor({
      db: database.db,
      logger: silentLogger,
      onParked: (parkedEvent) => parked.push(parkedEvent.eventId),
    });
    const good = [event('neighbour'), event('neighbour')];
    const poisonJob = [event('poisoned'), event('poisoned', { eventId: 'not-a-uuid' }), event('poisoned')];
    const outcomes = await Promise.allSettled([
      processBatch(good),
      processBatch(poisonJob),
      processBatch([event('neighbour')]),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(await views('neighbour')).toBe(3);
    expect(await views('poisoned')).toBe(2);
    expect(parked).toEqual(['not-a-uuid']);
    const rows = await queryRows<{ sql_state: string }>(
      database.db,
      sql`select sql_state from parked_events where event_id = 'not-a-uuid'`,
    );
    expect(rows).toEqual([{ sql_state: '22P02' }]);
  });

  it('reads a job’s events again (reload) only when its shared fold fails, and folds what it reads', async () => {
    const processBatch = createBatchProcessor({ db: database.db, logger: silentLogger });
    const reloads: string[] = [];
    const reloading = (name: string, events: QueuedEvent[]) => async () => {
      reloads.push(name);
      return events;
    };
    const fine = [event('reloaded'), event('reloaded')];
    const poisoned = [event('reloaded'), event('reloaded', { eventId: 'not-a-uuid-either' })];
    await Promise.all([
      processBatch([...fine], reloading('fine', fine)),
      processBatch([...poisoned], reloading('poisoned', poisoned)),
    ]);
    // Both jobs shared the fold the poison sank; each read its events again and folded them alone.
    expect(reloads.sort()).toEqual(['fine', 'poisoned']);
    expect(await views('reloaded')).toBe(3);
    const alone = [event('reloaded')];
    await processBatch(alone, reloading('alone', alone));
    expect(reloads).toHaveLength(2);
    expect(await views('reloaded')).toBe(4);
  });

  it('a job holding something that is not an event still folds its events, then fails on that one', async () => {
    const processBatch = createBatchProcessor({ db: database.db, logger: silentLogger });
    const events = [event('not-an-object'), null, event('not-an-object')] as unknown as QueuedEvent[];
    await expect(processBatch(events)).rejects.toThrow(TypeError);
    expect(await views('not-an-object')).toBe(2);
  });

  it('a job that is no batch of events fails: that is a bad job, not a bad event', async () => {
    const processBatch = createBatchProcessor({ db: database.db, logger: silentLogger });
    await expect(processBatch('garbage' as unknown as QueuedEvent[])).rejects.toThrow('no array of events');
  });
});
