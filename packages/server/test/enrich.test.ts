/**
 * Enrichment (SPEC §10) on its own: a generated MaxMind database read through
 * `maxmind`, CDN headers only behind a trusted proxy, real browser
 * User-Agents, referrer and UTM attribution, and the channel rules.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { attribute, channelOf, createEnricher, firstLanguage, openGeoDatabase } from '../src/ingest/enrich.js';
import type { QueuedEvent } from '../src/queue/types.js';
import { writeMmdb } from './mmdb-writer.js';

/** Just what enrichment reads of a request: its headers. */
function request(headers: Record<string, string>): Context {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { req: { header: (name: string) => lower[name.toLowerCase()] } } as unknown as Context;
}

const event = (overrides: Partial<QueuedEvent> = {}): QueuedEvent => ({
  eventId: 'e',
  visitorId: 'v',
  siteId: 's',
  eventType: 'page_view',
  path: '/',
  timestamp: '2024-11-14T10:00:00Z',
  receivedAt: 0,
  ...overrides,
});

async function geoDatabase() {
  const dir = mkdtempSync(join(tmpdir(), 'tally-geo-'));
  const file = join(dir, 'test-city.mmdb');
  writeFileSync(
    file,
    writeMmdb([
      [
        '203.0.113.0/24',
        {
          country: { iso_code: 'DE', names: { en: 'Germany' } },
          subdivisions: [{ iso_code: 'BE', names: { en: 'Berlin' } }],
          city: { names: { en: 'Berlin' } },
        },
      ],
      ['198.51.100.7/32', { country: { iso_code: 'FR', names: { en: 'France' } } }],
    ]),
  );
  return openGeoDatabase(file);
}

describe('geography', () => {
  it('reads country, ISO 3166-2 region and city from a MaxMind-format database by client IP', async () => {
    const enricher = createEnricher({ geoip: await geoDatabase(), trustProxy: 1 });
    const berlin = [event()];
    enricher.enrich(request({ 'x-forwarded-for': '203.0.113.9' }), berlin);
    expect(berlin[0]).toMatchObject({ country: 'DE', region: 'DE-BE', city: 'Berlin' });
    const paris = [event()];
    enricher.enrich(request({ 'x-forwarded-for': '198.51.100.7' }), paris);
    expect(paris[0]).toMatchObject({ country: 'FR' });
    expect(paris[0]?.city).toBeUndefined();
    // Not in the database: the CDN header, since a proxy is trusted.
    const elsewhere = [event()];
    enricher.enrich(request({ 'x-forwarded-for': '192.0.2.1', 'cf-ipcountry': 'JP' }), elsewhere);
    expect(elsewhere[0]?.country).toBe('JP');
  });

  it('believes CDN headers only with TRUST_PROXY, and never pseudo-countries', () => {
    const headers = {
      'x-vercel-ip-country': 'US',
      'x-vercel-ip-country-region': 'NY',
      'x-vercel-ip-city': 'New%20York',
    };
    const trusted = [event()];
    createEnricher({ trustProxy: 1 }).enrich(request(headers), trusted);
    expect(trusted[0]).toMatchObject({ country: 'US', region: 'US-NY', city: 'New York' });
    const untrusted = [event()];
    createEnricher({ trustProxy: 0 }).enrich(request(headers), untrusted);
    expect(untrusted[0]?.country).toBeUndefined();
    const tor = [event()];
    createEnricher({ trustProxy: 1 }).enrich(request({ 'cf-ipcountry': 'T1' }), tor);
    expect(tor[0]?.country).toBeUndefined();
  });
});

describe('user agent, screen and language', () => {
  it('derives device, browser and OS from real User-Agents, the device from screenWidth when the UA has none', () => {
    const enricher = createEnricher({ trustProxy: 0 });
    const cases: [string, Record<string, string>][] = [
      [
        'Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
        { device: 'tablet', os: 'iOS', browser: 'Mobile Safari' },
      ],
      [
        'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
        { device: 'mobile', os: 'Android', osVersion: '14', browser: 'Chrome', browserVersion: '120' },
      ],
      [
        'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
        { device: 'desktop', os: 'Linux', browser: 'Firefox', browserVersion: '121' },
      ],
    ];
    for (const [userAgent, expected] of cases) {
      const events = [event()];
      enricher.enrich(request({ 'user-agent': userAgent }), events);
      expect(events[0]).toMatchObject(expected);
    }
    const narrow = [event({ screenWidth: 390 })];
    enricher.enrich(request({}), narrow);
    expect(narrow[0]?.device).toBe('mobile');
  });

  it('takes the event language, else the first Accept-Language tag', () => {
    const enricher = createEnricher({ trustProxy: 0 });
    const events = [event({ language: 'pt-BR' }), event()];
    enricher.enrich(request({ 'accept-language': 'de-CH,de;q=0.9,en;q=0.8' }), events);
    expect(events.map((e) => e.language)).toEqual(['pt-BR', 'de-CH']);
    expect(firstLanguage('*')).toBeUndefined();
  });
});

describe('source and channel', () => {
  it.each([
    ['https://www.google.com/', undefined, undefined, 'Google', 'Organic Search', 'google.com'],
    [
      'https://news.ycombinator.com/item?id=1',
      undefined,
      undefined,
      'Hacker News',
      'Organic Social',
      'news.ycombinator.com',
    ],
    ['https://t.co/x', undefined, undefined, 'X/Twitter', 'Organic Social', 't.co'],
    ['https://www.youtube.com/watch?v=1', undefined, undefined, 'YouTube', 'Organic Video', 'youtube.com'],
    ['https://mail.google.com/', undefined, undefined, 'Gmail', 'Email', 'mail.google.com'],
    ['https://blog.example.org/post', undefined, undefined, 'blog.example.org', 'Referral', 'blog.example.org'],
    [undefined, 'newsletter', 'email', 'newsletter', 'Email', undefined],
    [undefined, 'google', 'cpc', 'Google', 'Paid Search', undefined],
    [undefined, 'facebook', 'paid_social', 'Facebook', 'Paid Social', undefined],
    [undefined, 'partner', 'affiliate', 'partner', 'Affiliates', undefined],
    [undefined, 'ads', 'display', 'ads', 'Display', undefined],
    [undefined, undefined, undefined, 'Direct / None', 'Direct', undefined],
    ['https://mysite.example/about', undefined, undefined, 'Direct / None', 'Direct', undefined],
  ])(
    'referrer %s, utm_source %s, utm_medium %s → %s, %s',
    (referrer, utmSource, utmMedium, source, channel, domain) => {
      const result = attribute(referrer, utmSource, utmMedium, ['www.mysite.example']);
      expect(result).toEqual({ source, channel, ...(domain ? { referrerDomain: domain } : {}) });
    },
  );

  it('a Direct source with an unknown medium is Unassigned; a medium of organic is Organic Search', () => {
    expect(channelOf('Direct / None', undefined, 'weird')).toBe('Unassigned');
    expect(channelOf('somewhere', undefined, 'organic')).toBe('Organic Search');
  });
});
