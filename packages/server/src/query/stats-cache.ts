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
  /** A mark to take before reading; pass it back to `set` with the answer read after it. */
  generation(): number;
  /** Stores the answer unless the site was invalidated since `generation` was taken. */
  set(siteId: string, key: string, answer: CachedAnswer, generation: number): void;
  /** Forgets every answer about these sites: a fold changed them. */
  invalidateSites(siteIds: Iterable<string>): void;
}

interface Site {
  /** The clock value of the site's last invalidation. */
  invalidatedAt: number;
  answers: Map<string, Entry>;
}

export function createStatsCache({ ttlMs, maxSites = 10_000 }: { ttlMs: number; maxSites?: number }): StatsCache {
  const sites = new Map<string, Site>();
  let clock = 0;
  // Sites forgotten to stay within `maxSites` count as invalidated when they were forgotten.
  let forgottenUpTo = 0;

  function remember(siteId: string, invalidatedAt: number): Site {
    if (sites.size >= maxSites) {
      const [oldestId, oldest] = sites.entries().next().value as [string, Site];
      forgottenUpTo = Math.max(forgottenUpTo, oldest.invalidatedAt);
      sites.delete(oldestId);
    }
    const site = { invalidatedAt, answers: new Map<string, Entry>() };
    sites.set(siteId, site);
    return site;
  }

  return {
    get(siteId, key) {
      const entry = sites.get(siteId)?.answers.get(key);
      if (!entry || entry.expiresAt <= Date.now()) return undefined;
      return entry;
    },
    generation() {
      return clock;
    },
    set(siteId, key, answer, generation) {
      if (ttlMs <= 0) return;
      const site = sites.get(siteId);
      if ((site?.invalidatedAt ?? forgottenUpTo) > generation) return;
      (site ?? remember(siteId, forgottenUpTo)).answers.set(key, { ...answer, expiresAt: Date.now() + ttlMs });
    },
    invalidateSites(siteIds) {
      for (const siteId of siteIds) {
        clock += 1;
        const site = sites.get(siteId);
        if (site) {
          site.invalidatedAt = clock;
          site.answers.clear();
        } else {
          remember(siteId, clock);
        }
      }
    },
  };
}
