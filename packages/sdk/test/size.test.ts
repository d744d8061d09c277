/** The script-tag budget (SPEC §6): minified IIFE ≤ 2048 bytes gzipped; and no zod, no runtime dependencies. */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { expect, test } from 'vitest';

const dist = (file: string) => readFileSync(new URL(`../dist/${file}`, import.meta.url), 'utf8');

test('tally.js is at most 2048 bytes gzipped', () => {
  const script = dist('tally.js');
  const gzipped = gzipSync(script, { level: 9 }).length;
  console.log(`tally.js: ${script.length} bytes minified, ${gzipped} bytes gzipped (budget 2048)`);
  expect(gzipped).toBeLessThanOrEqual(2048);
  expect(script.split('\n').filter(Boolean)).toHaveLength(1); // really minified
});

test('the shared limits are inlined as literals and no schema code ships', () => {
  const script = dist('tally.js');
  expect(script).toContain('65536');
  expect(script).not.toMatch(/bodyMaxBytes|batchMaxEvents|zod|safeParse/);
  for (const file of ['index.js', 'index.cjs']) {
    const bundle = dist(file);
    expect(bundle).not.toMatch(/\bzod\b|safeParse/);
    expect(bundle).not.toMatch(/from ["'](?!\.)|require\(["'](?!\.)/); // nothing imported: no runtime dependencies
  }
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  expect(pkg.dependencies ?? {}).toEqual({});
});
