/**
 * `GET /` and the dashboard (SPEC §13): who may open a site's page, the key
 * login that sets the session cookie, and the page's script and stylesheet.
 * The page's figures come from `POST /api/query`, which checks access again
 * on every call (`http/stats-access.ts`).
 */
import { createRequire } from 'node:module';
import { formatIssues, siteIdSchema } from '@tally/shared';
import { type Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import {
  isSameOrigin,
  isStatsKey,
  SESSION_COOKIE,
  SESSION_MAX_AGE_SECONDS,
  type Sessions,
  type SiteAccessLookup,
  shareOpens,
} from './access.js';
import { type Asset, loadDashboardAssets } from './assets.js';
import { dashboardPage, homePage, loginPage, type PageAssets } from './pages.js';

export interface DashboardRoutesOptions {
  statsKeys: readonly string[];
  sessions: Sessions;
  lookupSite: SiteAccessLookup;
  /** Site ids for the home page's picker, shown to whoever may read stats. */
  listSites: () => Promise<string[]>;
  /** Whether `/api` serves the API docs, to link them. */
  docs: boolean;
  /** `TRUST_PROXY`: when set, `X-Forwarded-Proto: https` makes the session cookie `Secure`. */
  trustProxy?: number;
}

/** Nothing from another host, no inline code, no framing: the page can only talk to this server. */
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

function serverVersion(): string {
  try {
    return (createRequire(import.meta.url)('@tally/server/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function siteIdOf(value: string): string {
  const parsed = siteIdSchema.safeParse(value);
  if (!parsed.success) throw new ValidationError(formatIssues(parsed.error.issues));
  return parsed.data;
}

/** The mount prefix: the part of the path before `suffix` (empty when Tally is served at the root). */
function baseOf(c: Context, suffix: string): string {
  const path = c.req.path;
  const at = path.lastIndexOf(suffix);
  return at <= 0 ? '' : path.slice(0, at);
}

/** The view's query string (range, filters, tabs) without a share secret, so a login lands on the same view. */
function viewOf(c: Context): string {
  const params = new URL(c.req.url).searchParams;
  params.delete('share');
  const query = params.toString();
  return query ? `?${query}` : '';
}

function serveAsset(c: Context, asset: Asset) {
  const immutable = c.req.query('v') === asset.hash;
  const headers: Record<string, string> = {
    'Content-Type': asset.type,
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    ETag: `"${asset.hash}"`,
    Vary: 'Accept-Encoding',
    'X-Content-Type-Options': 'nosniff',
  };
  if (c.req.header('if-none-match') === `"${asset.hash}"`) return c.body(null, 304, headers);
  if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
    return c.body(new Uint8Array(asset.gzipped), 200, { ...headers, 'Content-Encoding': 'gzip' });
  }
  return c.body(asset.body, 200, headers);
}

export function dashboardRoutes({
  statsKeys,
  sessions,
  lookupSite,
  listSites,
  docs,
  trustProxy = 0,
}: DashboardRoutesOptions) {
  const isHttps = (c: Context) =>
    new URL(c.req.url).protocol === 'https:' ||
    (trustProxy > 0 && c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https');
  const assets = loadDashboardAssets();
  const version = serverVersion();
  const open = statsKeys.length === 0;
  const urls = (base: string): PageAssets => ({
    style: `${base}/dashboard/assets/dashboard.css?v=${assets.style.hash}`,
    script: `${base}/dashboard/assets/dashboard.js?v=${assets.script.hash}`,
  });

  return new Hono()
    .get('/', async (c) => {
      const base = c.req.path.replace(/\/+$/, '');
      // Listing site ids changes nothing, so the session cookie of a top-level navigation is enough.
      const sites = open || sessions.verify(getCookie(c, SESSION_COOKIE)) ? await listSites() : undefined;
      return c.html(homePage(urls(base), { version, base, sites, docs }), 200, PAGE_HEADERS);
    })
    .get('/dashboard', (c) => {
      const base = baseOf(c, '/dashboard');
      const site = c.req.query('site')?.trim();
      if (!site) return c.redirect(`${base}/`, 303);
      return c.redirect(`${base}/dashboard/${encodeURIComponent(siteIdOf(site))}`, 303);
    })
    .get('/dashboard/assets/:file', (c) => {
      const file = c.req.param('file');
      if (file === 'dashboard.js') return serveAsset(c, assets.script);
      if (file === 'dashboard.css') return serveAsset(c, assets.style);
      throw new NotFoundError(`No dashboard asset ${file}`);
    })
    .post('/dashboard/logout', (c) => {
      if (!isSameOrigin(c)) throw new ForbiddenError('Log out from the dashboard itself');
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return c.redirect(`${baseOf(c, '/dashboard/logout')}/`, 303);
    })
    .get('/dashboard/:siteId', async (c) => {
      const siteId = siteIdOf(c.req.param('siteId'));
      const base = baseOf(c, `/dashboard/`);
      const page = { siteId, api: `${base}/api/query`, base };
      if (open) return c.html(dashboardPage(urls(base), { ...page, session: false }), 200, PAGE_HEADERS);
      // The page itself changes nothing, so a cookie sent with a top-level navigation may open it.
      const session = sessions.verify(getCookie(c, SESSION_COOKIE));
      const share = c.req.query('share');
      const site = await lookupSite(siteId);
      if (site?.public || session || shareOpens(site, share)) {
        return c.html(dashboardPage(urls(base), { ...page, session }), 200, PAGE_HEADERS);
      }
      const action = `${base}/dashboard/${encodeURIComponent(siteId)}/login${viewOf(c)}`;
      return c.html(
        loginPage(urls(base), { siteId, action, failed: false, expiredShare: share !== undefined }),
        401,
        PAGE_HEADERS,
      );
    })
    .post('/dashboard/:siteId/login', async (c) => {
      const siteId = siteIdOf(c.req.param('siteId'));
      // A login form posted from another site would sign the visitor in to someone else's session.
      if (!isSameOrigin(c)) throw new ForbiddenError('Log in from the dashboard itself');
      const base = baseOf(c, `/dashboard/`);
      const form = await c.req.parseBody();
      const key = typeof form.key === 'string' ? form.key : undefined;
      if (open || isStatsKey(statsKeys, key)) {
        setCookie(c, SESSION_COOKIE, sessions.issue(), {
          path: '/',
          httpOnly: true,
          sameSite: 'Strict',
          secure: isHttps(c),
          maxAge: SESSION_MAX_AGE_SECONDS,
        });
        return c.redirect(`${base}/dashboard/${encodeURIComponent(siteId)}${viewOf(c)}`, 303);
      }
      const action = `${base}/dashboard/${encodeURIComponent(siteId)}/login${viewOf(c)}`;
      return c.html(loginPage(urls(base), { siteId, action, failed: true, expiredShare: false }), 401, PAGE_HEADERS);
    });
}
