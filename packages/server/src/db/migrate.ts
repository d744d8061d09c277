/**
 * Applies the committed drizzle migrations. An advisory lock lets any number
 * of API and worker processes start at once against one database.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

const MIGRATION_LOCK = 7_271_011; // any constant shared by every Tally process

/** The package's `drizzle/` folder, found from `src/db/` when run from source and from `dist/` when bundled. */
export function findMigrationsFolder(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'drizzle', 'meta', '_journal.json'))) return join(dir, 'drizzle');
    if (dirname(dir) === dir) throw new Error(`No drizzle migrations folder above ${from}`);
  }
}

/** Migrates the database at `url`, or the one behind a pool the host app owns (Tally embedded, SPEC §14). */
export async function migratePostgres(target: string | pg.Pool): Promise<void> {
  const client = typeof target === 'string' ? new pg.Client({ connectionString: target }) : await target.connect();
  if (typeof target === 'string') await (client as pg.Client).connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await migrate(drizzle({ client }), { migrationsFolder: findMigrationsFolder() });
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    if (typeof target === 'string') await (client as pg.Client).end();
    else (client as pg.PoolClient).release();
  }
}
