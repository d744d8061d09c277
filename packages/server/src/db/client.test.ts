/**
 * `queryPrepared`: inside a transaction on a pg connection a statement is
 * prepared once per connection and run by name after that; anywhere else it
 * runs as a plain query. `forEachRow`: rows handed over as they come, none kept.
 */
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support.js';
import { connectPostgres, type Database, type DatabaseHandle, forEachRow, queryPrepared, queryRows } from './client.js';

let database: TestDatabase;
let handle: DatabaseHandle;
beforeAll(async () => {
  database = await createTestDatabase();
  // One connection: both transactions below run on it, and a client forEachRow failed to release would
  // hang every query after it.
  handle = connectPostgres(database.url, 1);
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

describe('queryPrepared', () => {
  const doubled = (n: number) => sql`SELECT ${n}::int * 2 AS twice`;
  const prepared = (tx: Database) =>
    queryRows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'tally_%'`);

  it('prepares a statement once on its connection, then runs it by name with new values', async () => {
    for (const n of [1, 2]) {
      await handle.db.transaction(async (transaction) => {
        const tx = transaction as unknown as Database;
        expect(await queryPrepared<{ twice: number }>(tx, doubled(n))).toEqual([{ twice: n * 2 }]);
        expect(await queryPrepared<{ twice: number }>(tx, doubled(n + 10))).toEqual([{ twice: (n + 10) * 2 }]);
        expect(await prepared(tx)).toEqual([{ n: 1 }]);
      });
    }
  });

  it('runs as a plain query outside a transaction', async () => {
    expect(await queryPrepared<{ twice: number }>(handle.db, doubled(4))).toEqual([{ twice: 8 }]);
  });
});

describe('forEachRow', () => {
  const series = sql`SELECT g AS n, repeat('x', 1000) AS pad FROM generate_series(1, 2000) g`;

  it('hands every row over in order and keeps none in the driver', async () => {
    // pg's own result rows (its `Result` class is exported, `addRow` untyped).
    const { Result } = pg as unknown as { Result: { prototype: { addRow(row: unknown): void } } };
    const addRow = vi.spyOn(Result.prototype, 'addRow');
    try {
      const seen: number[] = [];
      await forEachRow<{ n: number; pad: string }>(handle.db, series, (row) => seen.push(row.n));
      expect(seen).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
      await handle.db.transaction(async (transaction) => {
        let rows = 0;
        await forEachRow(transaction as unknown as Database, series, () => rows++);
        expect(rows).toBe(2000);
      });
      expect(addRow).not.toHaveBeenCalled();
    } finally {
      addRow.mockRestore();
    }
  });

  it('rejects with what onRow threw or PostgreSQL refused, and gives its connection back', async () => {
    await expect(
      forEachRow<{ n: number }>(handle.db, series, (row) => {
        if (row.n === 10) throw new Error('bad row');
      }),
    ).rejects.toThrow('bad row');
    await expect(forEachRow(handle.db, sql`SELECT 1 / 0 AS n`, () => {})).rejects.toThrow(/division by zero/);
    expect(await queryRows<{ n: number }>(handle.db, sql`SELECT 3 AS n`)).toEqual([{ n: 3 }]);
  });
});
