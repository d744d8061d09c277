/**
 * `GET /api`: Swagger UI over `GET /api/openapi.json`. The UI's script and
 * styles are served from the installed `swagger-ui-dist` package, never from a
 * CDN, so the docs work offline and behind strict egress rules.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Hono } from 'hono';
import { buildOpenApiDocument } from './openapi.js';

const ASSETS = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
} as const;

type Asset = keyof typeof ASSETS;

/** The page, with its asset and document URLs under `base` (the path it is served at: `/api`, or `/_t/api` when mounted). */
const page = (base: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Tally API</title>
  <link rel="stylesheet" href="${base}/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${base}/docs/swagger-ui-bundle.js"></script>
  <script src="${base}/docs/init.js"></script>
</body>
</html>`;

/**
 * Swagger UI's start: a separate script (no inline code, so a strict CSP can allow it), keeping
 * the key given under "Authorize" across reloads. Behind basic auth the browser sends its
 * credentials with the document request as with the page's.
 */
const initScript = (base: string) =>
  `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(`${base}/openapi.json`)}, dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: true });`;

function swaggerUiDir(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}

/** Mounted at `/api`; the caller puts auth in front. */
export function docsRoutes() {
  let document: string | undefined;
  const assets = new Map<Asset, Promise<string>>();
  const readAsset = (name: Asset) => {
    let content = assets.get(name);
    if (!content) {
      content = readFile(join(swaggerUiDir(), name), 'utf8');
      assets.set(name, content);
    }
    return content;
  };

  return (
    new Hono()
      // The full path, mount prefix included, so the page works wherever a host app mounts Tally.
      .get('/', (c) => c.html(page(c.req.path.replace(/\/+$/, ''))))
      .get('/docs/init.js', (c) => {
        const base = c.req.path.slice(0, -'/docs/init.js'.length);
        return c.body(initScript(base), 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      })
      .get('/openapi.json', (c) => {
        document ??= JSON.stringify(buildOpenApiDocument());
        return c.body(document, 200, { 'Content-Type': 'application/json; charset=utf-8' });
      })
      .get('/docs/:asset', async (c) => {
        const name = c.req.param('asset');
        if (!(name in ASSETS)) return c.notFound();
        const body = await readAsset(name as Asset);
        return c.body(body, 200, {
          'Content-Type': ASSETS[name as Asset],
          'Cache-Control': 'public, max-age=86400',
        });
      })
  );
}
