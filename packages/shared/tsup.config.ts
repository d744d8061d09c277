import { defineConfig } from 'tsup';

// The published package: ESM + CJS with declarations, one file per export subpath.
// Inside the repository nothing reads dist/: the `source` export condition points vitest, tsc and tsx at src/.
export default defineConfig({
  entry: { index: 'src/index.ts', limits: 'src/limits.ts' },
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { composite: false, emitDeclarationOnly: false } },
  target: 'node20',
  platform: 'neutral',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
});
