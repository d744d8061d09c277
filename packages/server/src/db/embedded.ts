/**
 * The embedded database of the default setup (SPEC §7): PostgreSQL compiled to
 * WebAssembly (PGlite), on disk in one folder, behind the same drizzle
 * `Database` type and migrated from the same `drizzle/` folder as the real one.
 * One process owns the folder at a time; a lock file says which.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import type { Database, DatabaseHandle } from './client.js';
import { findMigrationsFolder } from './migrate.js';
import * as schema from './schema/index.js';

export class DataDirLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`${dir} is in use by another Tally process (pid ${pid}); stop it or set TALLY_DATA_DIR to another folder.`);
    this.name = 'DataDirLockedError';
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** PGlite is single-process: two servers on one folder would corrupt it, so the second one refuses to start. */
function lockDataDir(dir: string): () => void {
  const lockFile = join(dir, 'tally.pid');
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isRunning(owner))
        throw new DataDirLockedError(dir, owner);
      rmSync(lockFile, { force: true }); // left by a process that crashed
    }
  }
}

/** Opens (creating and migrating when needed) the embedded database under `dataDir`. */
export async function openEmbeddedDatabase(dataDir: string): Promise<DatabaseHandle & { dataDir: string }> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const unlock = lockDataDir(dir);
  try {
    const client = await PGlite.create(join(dir, 'pgdata'));
    const db = drizzle({ client, schema });
    await migrate(db, { migrationsFolder: findMigrationsFolder() });
    return {
      dataDir: dir,
      db: db as unknown as Database,
      async ping() {
        await client.query('select 1');
      },
      async close() {
        await client.close();
        unlock();
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}
