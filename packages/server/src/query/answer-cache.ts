/**
 * A short-lived cache of read answers — `/api/stats` and `POST /api/query`
 * each have one (`services.ts`) — so that a dashboard polling a site costs one
 * database query per change, not one per request. A fold in this process
 * drops the answers about the sites it changed the moment it commits
 * (`services.ts` wires the worker's `onFolded` here), so with the default
 * `ROLE=all` an answer is never staler than the data. Folds in other
 * processes (split roles) are seen within the TTL. A per-site generation
 * keeps a read that raced a fold from storing what the fold made stale.
 */
export interface CachedAnswer {
  status: 200 | 404;
  /** The JSON body, serialized once. */
  body: string;
}

interface Entry extends CachedAnswer {
  expiresAt: number;
}

export interface AnswerCache {
  get(siteId: string, key: string): CachedAnswer | undefined;
  /** A mark to take before reading; pass it back to `set` with the answer read after it. */
  generation(): number;
  /** Stores the answer unless the site was invalidated since `generation` was taken. */
  set(siteId: string, key: string, answer: CachedAnswer, generation: number): void;
  /** Forgets every answer about these sites: a fold changed them. */
  invalidateSites(siteIds: Iterable<string>): void;
  /** Answers held, and the bytes of their keys and bodies: for tests and to see the bounds hold. */
  readonly size: { entries: number; bytes: number };
}

interface Site {
  /** The clock value of the site's last invalidation. */
  invalidatedAt: number;
  /** Keys of this site's answers in `answers`, oldest first. */
  keys: Set<string>;
}

export interface AnswerCacheOptions {
  ttlMs: number;
  /** Sites whose invalidation is remembered. */
  maxSites?: number;
  /** Answers held in all; past it expired ones go first, then the oldest. */
  maxEntries?: number;
  /** Answers held for one site, so that one site's many queries cannot push out every other site's. */
  maxEntriesPerSite?: number;
  /** Bytes of keys and answer bodies held in all (a top-100 answer can be tens of KiB; a query's key, its filters). */
  maxBytes?: number;
}

/**
 * Every bound is on client input: the request is the key, so 30,000 distinct
 * queries must not mean 30,000 answers kept for good, nor a key of 64 KiB of
 * filter values stored unweighed.
 */
export function createAnswerCache({
  ttlMs,
  maxSites = 10_000,
  maxEntries = 5_000,
  maxEntriesPerSite = 500,
  maxBytes = 16 * 1024 * 1024,
}: AnswerCacheOptions): AnswerCache {
  const sites = new Map<string, Site>();
  /** Every answer by `siteId\nkey` (a site id holds no newline), oldest first. */
  const answers = new Map<string, Entry & { siteId: string }>();
  let bytes = 0;
  let clock = 0;
  // Sites forgotten to stay within `maxSites` count as invalidated when they were forgotten.
  let forgottenUpTo = 0;

  function drop(id: string) {
    const entry = answers.get(id);
    if (!entry) return;
    answers.delete(id);
    bytes -= id.length + entry.body.length;
    sites.get(entry.siteId)?.keys.delete(id);
  }

  function remember(siteId: string, invalidatedAt: number): Site {
    if (sites.size >= maxSites) {
      const [oldestId, oldest] = sites.entries().next().value as [string, Site];
      forgottenUpTo = Math.max(forgottenUpTo, oldest.invalidatedAt);
      for (const id of oldest.keys) drop(id);
      sites.delete(oldestId);
    }
    const site: Site = { invalidatedAt, keys: new Set() };
    sites.set(siteId, site);
    return site;
  }

  function makeRoom(site: Site, size: number) {
    if (site.keys.size >= maxEntriesPerSite) drop(site.keys.values().next().value as string);
    if (answers.size < maxEntries && bytes + size <= maxBytes) return;
    const now = Date.now();
    for (const [id, entry] of answers) if (entry.expiresAt <= now) drop(id);
    for (const id of answers.keys()) {
      if (answers.size < maxEntries && bytes + size <= maxBytes) break;
      drop(id);
    }
  }

  return {
    get(siteId, key) {
      const id = `${siteId}\n${key}`;
      const entry = answers.get(id);
      if (!entry) return undefined;
      if (entry.expiresAt <= Date.now()) {
        drop(id);
        return undefined;
      }
      return entry;
    },
    generation() {
      return clock;
    },
    set(siteId, key, answer, generation) {
      const id = `${siteId}\n${key}`;
      const size = id.length + answer.body.length;
      if (ttlMs <= 0 || size > maxBytes) return;
      const known = sites.get(siteId);
      if ((known?.invalidatedAt ?? forgottenUpTo) > generation) return;
      const site = known ?? remember(siteId, forgottenUpTo);
      drop(id);
      makeRoom(site, size);
      answers.set(id, { ...answer, siteId, expiresAt: Date.now() + ttlMs });
      site.keys.add(id);
      bytes += size;
    },
    invalidateSites(siteIds) {
      for (const siteId of siteIds) {
        clock += 1;
        const site = sites.get(siteId);
        if (site) {
          site.invalidatedAt = clock;
          for (const id of site.keys) drop(id);
        } else {
          remember(siteId, clock);
        }
      }
    },
    get size() {
      return { entries: answers.size, bytes };
    },
  };
}
