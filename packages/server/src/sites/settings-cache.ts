/**
 * The site settings ingestion needs (allowed host names), read on the hot
 * path: cached in process for `ttlMs` (changes show within that), at most
 * `maxSites` entries (least recently used go first). Unknown sites are cached
 * too, so made-up site ids cost one query each per TTL at most. An expired
 * entry is answered at once while one refresh runs behind it, and a lookup
 * that the database does not answer within `lookupTimeoutMs` counts as "no
 * restriction": ingestion never waits on PostgreSQL for long (the queue is what
 * makes it durable).
 */
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from '../db/client.js';
import { Lru } from '../ingest/enrich.js';

export interface IngestSiteSettings {
  /** Host names the site's pages may be on; null: any. */
  allowedHostnames: string[] | null;
}

export interface SiteSettingsCache {
  get(siteId: string): IngestSiteSettings | Promise<IngestSiteSettings>;
  /** Forgets a site at once (this process changed it). */
  forget(siteId: string): void;
}

const ANY: IngestSiteSettings = { allowedHostnames: null };

interface Entry {
  at: number;
  value?: IngestSiteSettings;
  pending?: Promise<IngestSiteSettings> | undefined;
}

export function createSiteSettingsCache(
  db: Database,
  {
    ttlMs = 10_000,
    maxSites = 10_000,
    lookupTimeoutMs = 500,
  }: { ttlMs?: number; maxSites?: number; lookupTimeoutMs?: number } = {},
): SiteSettingsCache {
  const entries = new Lru<Entry>(maxSites);

  function load(siteId: string, entry: Entry): Promise<IngestSiteSettings> {
    const query = queryRows<{ allowed_hostnames: string[] | null }>(
      db,
      sql`SELECT allowed_hostnames FROM sites WHERE site_id = ${siteId}`,
    ).then(([row]) => (row?.allowed_hostnames ? { allowedHostnames: row.allowed_hostnames } : ANY));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), lookupTimeoutMs);
      timer.unref();
    });
    entry.pending = Promise.race([query, timeout]).then(
      (settings) => {
        clearTimeout(timer);
        entry.pending = undefined;
        if (!settings) return entry.value ?? ANY; // too slow: try again next time
        entry.at = Date.now();
        entry.value = settings;
        return settings;
      },
      () => {
        clearTimeout(timer);
        entry.pending = undefined;
        return entry.value ?? ANY;
      },
    );
    return entry.pending;
  }

  return {
    get(siteId) {
      let entry = entries.get(siteId);
      if (!entry) {
        entry = { at: 0 };
        entries.set(siteId, entry);
      }
      if (Date.now() - entry.at < ttlMs && entry.value) return entry.value;
      const pending = entry.pending ?? load(siteId, entry);
      return entry.value ?? pending;
    },
    forget(siteId) {
      entries.set(siteId, { at: 0 });
    },
  };
}
