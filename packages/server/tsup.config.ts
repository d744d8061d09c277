import { cpSync } from 'node:fs';
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
  // The shared schemas are bundled from their sources (the `source` export condition), so `dist/` needs no
  // build of @tally/shared and can never meet another version of it; zod stays a dependency.
  noExternal: ['@tally/shared'],
  // The dashboard's script and stylesheet are served as they are written, read from `assets/` beside the code.
  async onSuccess() {
    cpSync('src/dashboard/assets', 'dist/assets', { recursive: true });
  },
  esbuildOptions(options) {
    options.conditions = ['source', ...(options.conditions ?? ['module'])]; // esbuild drops its default `module` when conditions are set
  },
});
