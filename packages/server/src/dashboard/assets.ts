/**
 * The dashboard's one script and one stylesheet, read once from `assets/`
 * (beside this file in the sources; copied beside the bundle into `dist/assets/`
 * by tsup), served gzipped under a content hash so browsers cache them for good.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

export interface Asset {
  name: string;
  type: string;
  body: string;
  gzipped: Buffer;
  hash: string;
}

function readAsset(name: string, type: string): Asset {
  const body = readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');
  return {
    name,
    type,
    body,
    gzipped: gzipSync(body, { level: 9 }),
    hash: createHash('sha256').update(body).digest('base64url').slice(0, 16),
  };
}

export function loadDashboardAssets(): { script: Asset; style: Asset } {
  return {
    script: readAsset('dashboard.js', 'text/javascript; charset=utf-8'),
    style: readAsset('dashboard.css', 'text/css; charset=utf-8'),
  };
}
