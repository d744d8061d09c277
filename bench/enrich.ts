/**
 * What enrichment (SPEC §10) costs the API per event: `createEnricher().enrich`
 * timed in this process on realistic requests — browser User-Agents (parsed by
 * ua-parser-js, then kept in the enricher's cache), referrers and UTM tags,
 * the CDN's country header, Accept-Language — and with a MaxMind-format
 * database (a generated one of 4,096 networks: the lookup walks the same
 * 32-level tree a full City database has, but decodes from a smaller data
 * section). Prints one JSON line of µs per event (per request for the
 * User-Agent parse, which happens once per request).
 *
 *   node --import tsx bench/enrich.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'hono';
import { createEnricher, openGeoDatabase } from '../packages/server/src/ingest/enrich.js';
import type { QueuedEvent } from '../packages/server/src/queue/types.js';
import { writeMmdb } from '../packages/server/test/mmdb-writer.js';

const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36',
];
const REFERRERS = [
  undefined,
  'https://www.google.com/',
  'https://news.ycombinator.com/item?id=1',
  'https://t.co/abc',
  'https://duckduckgo.com/',
];
const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'IN', 'CA'];

function request(i: number, agent: string, ip?: string): Context {
  const headers: Record<string, string> = {
    'user-agent': agent,
    'accept-language': 'de-DE,de;q=0.9,en;q=0.8',
    'cf-ipcountry': COUNTRIES[i % COUNTRIES.length] as string,
    origin: 'https://shop.example',
  };
  if (ip) headers['x-forwarded-for'] = ip;
  return { req: { header: (name: string) => headers[name.toLowerCase()] } } as unknown as Context;
}

function events(i: number, count: number): QueuedEvent[] {
  return Array.from({ length: count }, (_, k) => {
    const n = i * count + k;
    const newsletter = n % 7 === 0;
    return {
      eventId: `e${n}`,
      visitorId: `v${n % 1000}`,
      siteId: 'shop',
      eventType: 'page_view',
      path: `/page/${n % 200}`,
      timestamp: '2026-01-01T10:00:00Z',
      receivedAt: 0,
      ...(REFERRERS[n % REFERRERS.length] ? { referrer: REFERRERS[n % REFERRERS.length] } : {}),
      ...(newsletter ? { utmSource: 'newsletter', utmMedium: 'email', utmCampaign: 'dec' } : {}),
      screenWidth: 1280,
    } as QueuedEvent;
  });
}

type Input = { c: Context; e: QueuedEvent[] };

/**
 * µs per event of enriching `inputs` (`perRequest` events each) with `enricher`, `requests` at a
 * time after a warm-up; the best of five rounds, on a shared machine.
 */
function time(
  enricher: ReturnType<typeof createEnricher>,
  inputs: Input[],
  requests: number,
  perRequest: number,
): number {
  const run = (i: number) => {
    const input = inputs[i % inputs.length] as Input;
    enricher.enrich(input.c, input.e);
  };
  // Warm up on the inputs the rounds reach last, so a User-Agent the rounds first meet is still unseen.
  for (let i = 0; i < Math.min(requests, 2_000); i++) run(inputs.length - 1 - i);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    for (let i = 0; i < requests; i++) run(round * requests + i);
    best = Math.min(best, ((performance.now() - started) * 1000) / (requests * perRequest));
  }
  return best;
}

const plain = createEnricher({ trustProxy: 1 });
const N = 20_000;
// Build the inputs first: only `enrich` is timed.
const single = Array.from({ length: 6 * N }, (_, i) => ({
  c: request(i, AGENTS[i % AGENTS.length] as string),
  e: events(i, 1),
}));
const batches = Array.from({ length: 6 * (N / 20) }, (_, i) => ({
  c: request(i, AGENTS[i % AGENTS.length] as string),
  e: events(i, 20),
}));
const singleEvent = time(plain, single, N, 1);
const batchEvent = time(plain, batches, N / 20, 20);
// Every request a User-Agent never seen (a new build number): the parse itself, once per request.
const fresh = createEnricher({ trustProxy: 1 });
const unseen = Array.from({ length: 6 * 5_000 }, (_, i) => ({
  c: request(i, `${AGENTS[i % AGENTS.length]} Build/${i}`),
  e: events(i, 1),
}));
const uaMiss = time(fresh, unseen, 5_000, 1);

const networks: [string, Record<string, unknown>][] = [];
for (let n = 0; n < 4_096; n++) {
  networks.push([
    `${10 + (n >> 8)}.${n & 255}.0.0/16`,
    {
      country: { iso_code: COUNTRIES[n % COUNTRIES.length], names: { en: 'Country' } },
      subdivisions: [{ iso_code: 'BE', names: { en: 'Region' } }],
      city: { names: { en: `City ${n % 500}` } },
    },
  ]);
}
const file = join(mkdtempSync(join(tmpdir(), 'tally-bench-geo-')), 'bench.mmdb');
writeFileSync(file, writeMmdb(networks as Parameters<typeof writeMmdb>[0]));
const geo = createEnricher({ trustProxy: 1, geoip: await openGeoDatabase(file) });
const located = Array.from({ length: 6 * N }, (_, i) => ({
  c: request(i, AGENTS[i % AGENTS.length] as string, `${10 + ((i * 7) % 16)}.${(i * 13) % 256}.1.2`),
  e: events(i, 1),
}));
const geoEvent = time(geo, located, N, 1);

process.stdout.write(`${JSON.stringify({ singleEvent, batchEvent, uaMiss, geoEvent })}\n`);
