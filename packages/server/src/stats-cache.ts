/**
 * A short-lived cache of `/api/stats` answers, so that a dashboard polling a
 * site costs one database query per change, not one per request. A fold in
 * this process drops the answers about the sites it changed the moment it
 * commits (`main.ts` wires the worker's `onFolded` here), so with the default
 * `ROLE=all` an answer is never staler than the data. Folds in other
 * processes (split roles) are seen within `STATS_CACHE_MS`. A per-site
 * generation keeps a read that raced a fold from storing what the fold made
 * stale.
 */
export interface CachedAnswer {
  status: 200 | 404;
  /** The JSON body, serialized once. */
  body: string;
}

interface Entry extends CachedAnswer {
  expiresAt: number;
}

export interface StatsCache {
  get(siteId: string, key: string): CachedAnswer | undefined;
  /** The site's generation now; pass it back to `set` with the answer read after it. */
  generation(siteId: string): number;
  set(siteId: string, key: string, answer: CachedAnswer, generation: number): void;
  /** Forgets every answer about these sites: a fold changed them. */
  invalidateSites(siteIds: Iterable<string>): void;
}

export function createStatsCache({ ttlMs, maxSites = 10_000 }: { ttlMs: number; maxSites?: number }): StatsCache {
  const sites = new Map<string, { generation: number; answers: Map<string, Entry> }>();

  function site(siteId: string) {
    let entry = sites.get(siteId);
    if (!entry) {
      // Bounded: past the limit the oldest site (in insertion order) is forgotten.
      if (sites.size >= maxSites) sites.delete(sites.keys().next().value as string);
      entry = { generation: 0, answers: new Map() };
      sites.set(siteId, entry);
    }
    return entry;
  }

  return {
    get(siteId, key) {
      const entry = sites.get(siteId)?.answers.get(key);
      if (!entry || entry.expiresAt <= Date.now()) return undefined;
      return entry;
    },
    generation(siteId) {
      return sites.get(siteId)?.generation ?? 0;
    },
    set(siteId, key, answer, generation) {
      if (ttlMs <= 0) return;
      const entry = site(siteId);
      if (entry.generation !== generation) return;
      entry.answers.set(key, { ...answer, expiresAt: Date.now() + ttlMs });
    },
    invalidateSites(siteIds) {
      for (const siteId of siteIds) {
        const entry = sites.get(siteId);
        if (!entry) continue;
        entry.generation += 1;
        entry.answers.clear();
      }
    },
  };
}
