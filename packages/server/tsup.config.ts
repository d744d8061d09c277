import { defineConfig } from 'tsup';

export default defineConfig({
  // `index` is the library entry (`createTally`, SPEC §14); `main` runs the server.
  entry: { index: 'src/index.ts', main: 'src/main.ts', 'migrate-cli': 'src/db/migrate-cli.ts' },
  dts: { entry: { index: 'src/index.ts' }, compilerOptions: { composite: false, emitDeclarationOnly: false } },
  format: 'esm',
  target: 'node20',
  platform: 'node',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  // The shared schemas are source-only; bundle them so `dist/` runs without a build of @tally/shared.
  noExternal: ['@tally/shared'],
});
