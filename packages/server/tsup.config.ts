import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { main: 'src/main.ts', 'migrate-cli': 'src/db/migrate-cli.ts' },
  format: 'esm',
  target: 'node20',
  platform: 'node',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  // The shared schemas are source-only; bundle them so `dist/` runs without a build of @tally/shared.
  noExternal: ['@tally/shared'],
});
