/**
 * The dashboard as a person uses it (SPEC §13), in Chromium (Debian's, driven
 * by playwright-core) against the real stack: a site seeded through the ingest
 * API with real User-Agents, referrers and UTM tags and folded by the worker.
 * Figures on screen equal the query API's; clicking a row filters everything and
 * lands in the URL; a copied URL shows the same view; nothing is loaded from
 * another origin; script and stylesheet stay within 50 KB gzipped; a phone-width
 * screen does not scroll sideways; no console errors. A private site asks for a
 * stats key, which works; a share link works until its secret is rotated.
 * Screenshots in light and dark go to `test/artifacts/` (git-ignored);
 * `TALLY_DOCS_SCREENSHOT=1` also writes `docs/dashboard.png`.
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { serve } from '@hono/node-server';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestStack, type TestStack } from './support.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KEY = 'dashboard-test-key';
const ADMIN = 'dashboard-admin-key';
const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const DOCS_SCREENSHOT = new URL('../../../docs/dashboard.png', import.meta.url);
const HEADLINE = ['visitors', 'visits', 'pageviews', 'bounceRate', 'visitDuration', 'viewsPerVisit'];

const UA = {
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  windows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0',
  android:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
};
const REFERRERS = [
  'https://www.google.com/',
  'https://news.ycombinator.com/item?id=1',
  'https://www.reddit.com/r/webdev/',
  undefined,
  'https://github.com/tally/tally',
];
const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'US', 'JP'];
const PATHS = ['/', '/pricing', '/blog/launch', '/docs', '/about'];

let stack: TestStack;
let server: ReturnType<typeof serve>;
let origin: string;
let browser: Browser;

const visitorId = (n: number) => `cccccccc-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/**
 * Visits over the last week and the week before (for the comparison), a few in
 * the last minutes (the live count), each visitor with its own browser, country
 * and referrer, some with UTM tags and a signup with props.
 */
async function seed(siteId: string, visitors: number) {
  const now = Date.now();
  for (let n = 0; n < visitors; n++) {
    const ua = Object.values(UA)[n % 4] as string;
    const headers = {
      'user-agent': ua,
      'cf-ipcountry': COUNTRIES[n % COUNTRIES.length] as string,
      origin: 'https://shop.example',
    };
    // Two in the last minutes, the rest spread over 12 days back.
    const start = n < 2 ? now - 60_000 * (n + 1) : now - ((n * 7919) % (12 * 24)) * 3_600_000 - 600_000;
    const pages = 1 + (n % 3);
    const events = Array.from({ length: pages }, (_, i) => ({
      siteId,
      eventType: 'page_view',
      visitorId: visitorId(n),
      path: PATHS[(n + i) % PATHS.length],
      timestamp: new Date(start + i * 45_000).toISOString(),
      ...(i === 0 && REFERRERS[n % REFERRERS.length] ? { referrer: REFERRERS[n % REFERRERS.length] } : {}),
      ...(i === 0 && n % 4 === 1 ? { utmSource: 'newsletter', utmMedium: 'email', utmCampaign: 'autumn' } : {}),
    }));
    if (n % 5 === 0) {
      events.push({
        siteId,
        eventType: 'signup',
        visitorId: visitorId(n),
        path: '/pricing',
        timestamp: new Date(start + pages * 45_000).toISOString(),
        props: { plan: n % 2 ? 'pro' : 'free' },
      } as (typeof events)[number]);
    }
    const response = await postJson(stack.app, '/api/events', { events }, headers);
    expect(response.status).toBe(202);
  }
}

async function apiQuery(body: Record<string, unknown>) {
  const response = await postJson(stack.app, '/api/query', body, { authorization: `Bearer ${KEY}` });
  expect(response.status).toBe(200);
  return (await response.json()) as {
    results: { dimensions: (string | null)[]; metrics: number[]; comparison?: { change: (number | null)[] } }[];
  };
}

interface Watched {
  page: Page;
  problems: string[];
  foreign: string[];
}

async function openPage(context: BrowserContext): Promise<Watched> {
  const page = await context.newPage();
  const problems: string[] = [];
  const foreign: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:')) foreign.push(url);
  });
  return { page, problems, foreign };
}

/** Resolves once the dashboard has drawn the answers of its latest state. */
async function rendered(page: Page) {
  await page.locator('#dashboard[aria-busy="false"][data-rendered]').waitFor();
}

async function headline(page: Page): Promise<number[]> {
  return Promise.all(
    HEADLINE.map(async (metric) =>
      Number(await page.locator(`[data-metric="${metric}"] .value`).getAttribute('data-value')),
    ),
  );
}

async function panelRows(page: Page, panel: string): Promise<[string, number][]> {
  const rows = page.locator(`[data-panel="${panel}"] .rows li`);
  const count = await rows.count();
  const out: [string, number][] = [];
  for (let i = 0; i < count; i++) {
    const row = rows.nth(i);
    const visitors = (await row.locator('[data-metric="visitors"]').textContent()) ?? '';
    out.push([(await row.getAttribute('data-value')) ?? '', Number(visitors.replace(/,/g, ''))]);
  }
  return out;
}

beforeAll(async () => {
  // Visits take events up to two weeks old: the seed spans the range and the one before it.
  stack = await startTestStack({
    env: { STATS_API_KEYS: KEY, ADMIN_API_KEY: ADMIN, TRUST_PROXY: '1', LATE_EVENT_HOURS: '400' },
  });
  await seed('shop', 40);
  await seed('blog', 12);
  await stack.drain();
  const made = await stack.app.request('/api/sites/blog', {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ public: true }),
  });
  expect(made.status).toBe(200);
  server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: stack.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(started));
  });
  origin = `http://127.0.0.1:${((server as unknown as Server).address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
    ],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await stack?.close();
});

describe('dashboard in Chromium', () => {
  it('shows the query API figures of a public site, filters by a clicked row, and a copied URL reproduces the view', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, colorScheme: 'light' });
    const { page, problems, foreign } = await openPage(context);
    await page.goto(`${origin}/dashboard/blog?range=7d&compare=1`);
    await rendered(page);

    const request = { siteId: 'blog', dateRange: '7d' };
    const overall = await apiQuery({ ...request, metrics: HEADLINE, compare: 'previousPeriod' });
    const [row] = overall.results;
    expect(await headline(page)).toEqual(row?.metrics);
    expect(row?.metrics[0]).toBeGreaterThan(0);
    const visitorsChange = row?.comparison?.change[0];
    const changeText = await page.locator('[data-metric="visitors"] .change').textContent();
    expect(changeText).toContain(visitorsChange === null ? 'new' : `${Math.abs(visitorsChange ?? 0)}%`);
    const sources = await apiQuery({ ...request, metrics: ['visitors'], dimensions: ['source'], limit: 10 });
    expect(await panelRows(page, 'sources')).toEqual(sources.results.map((r) => [r.dimensions[0] ?? '', r.metrics[0]]));
    // The chart: one point per day of the range, the comparison dotted beside it.
    const series = await apiQuery({ ...request, metrics: ['visitors'], dimensions: ['time:day'] });
    expect(series.results).toHaveLength(7);
    const drawn = await page.locator('#chart path.line.current').getAttribute('data-values');
    expect(drawn).toBe(series.results.map((r) => r.metrics[0]).join(','));
    expect(await page.locator('#chart path.line.previous').count()).toBe(1);
    const live = await apiQuery({ siteId: 'blog', metrics: ['visitors'], dateRange: 'realtime' });
    await expect.poll(() => page.locator('#live').getAttribute('data-value')).toBe(String(live.results[0]?.metrics[0]));
    await page.screenshot({ path: new URL('dashboard-light.png', ARTIFACTS).pathname, fullPage: true });
    if (process.env.TALLY_DOCS_SCREENSHOT === '1') {
      await page.screenshot({ path: DOCS_SCREENSHOT.pathname, fullPage: true, type: 'png', scale: 'css' });
    }

    // Custom events broken down by a property key.
    await page.locator('[data-panel="events"] [role=tab][data-tab="props"]').click();
    await page.locator('#prop').fill('plan');
    await page.locator('#prop-form button').click();
    await page.waitForURL(/prop=plan/);
    await rendered(page);
    const plans = await apiQuery({
      ...request,
      metrics: ['visitors'],
      dimensions: ['props:plan'],
      orderBy: [['visitors', 'desc']],
      limit: 10,
    });
    expect(plans.results.length).toBeGreaterThan(0);
    expect(await panelRows(page, 'events')).toEqual(plans.results.map((r) => [r.dimensions[0] ?? '', r.metrics[0]]));

    // Keyboard: tab to Google's row in the sources panel and press Enter.
    const google = page.locator('[data-panel="sources"] .rows li[data-value="Google"] a');
    await google.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/f\.source=Google/);
    await rendered(page);
    const filtered = await apiQuery({
      ...request,
      metrics: HEADLINE,
      compare: 'previousPeriod',
      filters: [['is', 'source', ['Google']]],
    });
    expect(await headline(page)).toEqual(filtered.results[0]?.metrics);
    expect(filtered.results[0]?.metrics[0]).toBeLessThan(row?.metrics[0] ?? 0);
    await expect(page.locator('#filters .chip').textContent()).resolves.toContain('Source is Google');

    // A tab change lands in the URL too; then the link, opened afresh, shows the same view.
    await page.locator('[data-panel="devices"] [role=tab][data-tab="browser"]').click();
    await page.waitForURL(/devices=browser/);
    await rendered(page);
    const url = page.url();
    const shown = await headline(page);
    const browsers = await panelRows(page, 'devices');
    const copy = await openPage(context);
    await copy.page.goto(url);
    await rendered(copy.page);
    expect(await headline(copy.page)).toEqual(shown);
    expect(await panelRows(copy.page, 'devices')).toEqual(browsers);
    expect(await copy.page.locator('[data-panel="devices"] [aria-selected="true"]').textContent()).toBe('Browser');
    expect(await copy.page.locator('#compare').isChecked()).toBe(true);

    // Removing the chip goes back to the whole site.
    await copy.page.locator('#filters .chip').click();
    await rendered(copy.page);
    expect(copy.page.url()).not.toContain('f.source');
    expect(await headline(copy.page)).toEqual(row?.metrics);

    expect(foreign).toEqual([]);
    expect(copy.foreign).toEqual([]);
    expect(problems).toEqual([]);
    expect(copy.problems).toEqual([]);
    await context.close();
  });

  it('downloads a panel as the query API CSV', async () => {
    const context = await browser.newContext({ acceptDownloads: true });
    const { page, problems } = await openPage(context);
    await page.goto(`${origin}/dashboard/blog?range=30d`);
    await rendered(page);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-panel="pages"] [data-csv]').click(),
    ]);
    const path = await download.path();
    const { readFileSync } = await import('node:fs');
    const csv = readFileSync(path, 'utf8');
    const response = await postJson(
      stack.app,
      '/api/query',
      { siteId: 'blog', metrics: ['visitors', 'pageviews'], dateRange: '30d', dimensions: ['path'], format: 'csv' },
      { authorization: `Bearer ${KEY}` },
    );
    expect(csv).toBe(await response.text());
    expect(csv.split('\r\n')[0]).toBe('path,visitors,pageviews');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('takes a custom range, and updates the live count every 30 s without a reload', async () => {
    const context = await browser.newContext();
    await context.clock.install();
    const { page, problems, foreign } = await openPage(context);
    await page.goto(`${origin}/dashboard/blog`);
    await rendered(page);
    const day = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
    await page.locator('#range').selectOption('custom');
    await page.locator('#from').fill(day(3));
    await page.locator('#to').fill(day(0));
    await page.locator('#custom-range button').click();
    await page.waitForURL(/range=custom/);
    await rendered(page);
    const url = new URL(page.url());
    expect([url.searchParams.get('from'), url.searchParams.get('to')]).toEqual([day(3), day(0)]);
    const custom = await apiQuery({ siteId: 'blog', metrics: HEADLINE, dateRange: [day(3), day(0)] });
    expect(await headline(page)).toEqual(custom.results[0]?.metrics);

    const shown = Number(await page.locator('#live').getAttribute('data-value'));
    const newcomer = { siteId: 'blog', eventType: 'page_view', path: '/live', visitorId: visitorId(999) };
    const sent = await postJson(
      stack.app,
      '/api/event',
      { ...newcomer, timestamp: new Date().toISOString() },
      { 'user-agent': UA.mac },
    );
    expect(sent.status).toBe(202);
    await stack.drain();
    const now = await apiQuery({ siteId: 'blog', metrics: ['visitors'], dateRange: 'realtime' });
    expect(now.results[0]?.metrics[0]).toBeGreaterThan(shown);
    await page.clock.runFor(31_000);
    await expect.poll(() => page.locator('#live').getAttribute('data-value')).toBe(String(now.results[0]?.metrics[0]));
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
    await context.close();
  });

  it('keeps script and stylesheet within 50 KB gzipped, and fits a 390 px screen in dark mode', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      colorScheme: 'dark',
      isMobile: true,
      hasTouch: true,
    });
    const watched = await openPage(context);
    const assets: string[] = [];
    watched.page.on('response', (response) => {
      if (/\.(js|css)(\?|$)/.test(response.url())) assets.push(response.url());
    });
    await watched.page.goto(`${origin}/dashboard/blog?range=30d`);
    await rendered(watched.page);
    let gzipped = 0;
    for (const url of assets) {
      const response = await fetch(url);
      gzipped += gzipSync(Buffer.from(await response.arrayBuffer()), { level: 9 }).length;
    }
    expect(assets).toHaveLength(2);
    expect(gzipped).toBeLessThanOrEqual(50 * 1024);
    console.info(`dashboard JS + CSS: ${gzipped} bytes gzipped`);
    const widths = (await watched.page.evaluate(
      '[document.documentElement.scrollWidth, window.innerWidth]',
    )) as number[];
    expect(widths[0]).toBeLessThanOrEqual(widths[1] as number);
    const background = await watched.page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(background).toBe('rgb(15, 17, 21)');
    await watched.page.screenshot({ path: new URL('dashboard-dark-390.png', ARTIFACTS).pathname, fullPage: true });
    const wide = await browser.newContext({ viewport: { width: 1200, height: 900 }, colorScheme: 'dark' });
    const darkWide = await openPage(wide);
    await darkWide.page.goto(`${origin}/dashboard/blog?range=30d`);
    await rendered(darkWide.page);
    await darkWide.page.screenshot({ path: new URL('dashboard-dark.png', ARTIFACTS).pathname, fullPage: true });
    expect([...watched.problems, ...darkWide.problems]).toEqual([]);
    expect([...watched.foreign, ...darkWide.foreign]).toEqual([]);
    await context.close();
    await wide.close();
  });

  it('asks for a stats key on a private site, and the key opens it', async () => {
    const context = await browser.newContext();
    const { page, problems, foreign } = await openPage(context);
    const first = await page.goto(`${origin}/dashboard/shop?range=7d`);
    expect(first?.status()).toBe(401);
    await page.locator('#key').fill('wrong');
    await page.locator('button[type=submit]').click();
    await expect(page.locator('.error').textContent()).resolves.toContain('not valid');
    await page.locator('#key').fill(KEY);
    await page.locator('button[type=submit]').click();
    await rendered(page);
    const cookies = await context.cookies();
    const session = cookies.find((cookie) => cookie.name === 'tally_dashboard');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // Login lands on the view that was asked for.
    expect(new URL(page.url()).search).toBe('?range=7d');
    const answer = await apiQuery({ siteId: 'shop', metrics: HEADLINE, dateRange: '7d' });
    expect(await headline(page)).toEqual(answer.results[0]?.metrics);
    expect(answer.results[0]?.metrics[0]).toBeGreaterThan(0);
    // The same cookie from another site's page (cross-site request) opens nothing.
    const crossSite = await stack.app.request('/api/query', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: `tally_dashboard=${session?.value}`,
        'sec-fetch-site': 'cross-site',
        origin: 'https://evil.example',
      },
      body: JSON.stringify({ siteId: 'shop', metrics: ['visitors'], dateRange: '7d' }),
    });
    expect(crossSite.status).toBe(401);
    expect(problems.filter((text) => !text.includes('401'))).toEqual([]);
    expect(foreign).toEqual([]);
    await context.close();
  });

  it('opens a private site by its share link until the secret is rotated', async () => {
    const rotate = () =>
      stack.app.request('/api/sites/shop/share', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    expect((await stack.app.request('/api/sites/shop/share', { method: 'POST' })).status).toBe(401);
    const made = (await (await rotate()).json()) as { shareUrl: string; shareSecret: string };
    expect(made.shareUrl).toBe(`/dashboard/shop?share=${made.shareSecret}`);

    const context = await browser.newContext();
    const { page, problems, foreign } = await openPage(context);
    const opened = await page.goto(`${origin}${made.shareUrl}&range=7d`);
    expect(opened?.status()).toBe(200);
    await rendered(page);
    const answer = await apiQuery({ siteId: 'shop', metrics: HEADLINE, dateRange: '7d' });
    expect(await headline(page)).toEqual(answer.results[0]?.metrics);
    // Filtering keeps the secret in the URL, so the filtered link can be shared too.
    await page.locator('[data-panel="locations"] .rows li a').first().click();
    await page.waitForURL(/f\.country=/);
    expect(page.url()).toContain(`share=${made.shareSecret}`);
    await rendered(page);
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);

    const rotated = (await (await rotate()).json()) as { shareUrl: string };
    expect(rotated.shareUrl).not.toBe(made.shareUrl);
    const stale = await context.newPage();
    expect((await stale.goto(`${origin}${made.shareUrl}`))?.status()).toBe(401);
    await expect(stale.locator('.error').textContent()).resolves.toContain('share link');
    const oldSecret = await postJson(
      stack.app,
      '/api/query',
      { siteId: 'shop', metrics: ['visitors'], dateRange: '7d' },
      { 'x-tally-share': made.shareSecret },
    );
    expect(oldSecret.status).toBe(401);
    expect((await stale.goto(`${origin}${rotated.shareUrl}`))?.status()).toBe(200);

    const revoked = await stack.app.request('/api/sites/shop/share', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(await revoked.json()).toEqual({ siteId: 'shop', shareSecret: null, shareUrl: null });
    expect((await stale.goto(`${origin}${rotated.shareUrl}`))?.status()).toBe(401);
    await context.close();
  });

  it('says what runs at / and links the dashboard, docs and health', async () => {
    const context = await browser.newContext();
    const { page, problems, foreign } = await openPage(context);
    await page.goto(`${origin}/`);
    await expect(page.locator('h1').textContent()).resolves.toMatch(/^Tally \d+\.\d+\.\d+/);
    for (const href of ['/api', '/healthz', '/readyz']) expect(await page.locator(`a[href="${href}"]`).count()).toBe(1);
    // Sites are listed only to a signed-in visitor; the form opens any site.
    expect(await page.locator('a[href="/dashboard/blog"]').count()).toBe(0);
    await page.locator('#site').fill('blog');
    await page.locator('form[action="/dashboard"] button').click();
    await rendered(page);
    expect(new URL(page.url()).pathname).toBe('/dashboard/blog');
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
    await context.close();
  });
});
