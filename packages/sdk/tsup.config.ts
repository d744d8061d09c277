import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // npm: readable ESM + CJS with declarations; the app's bundler minifies.
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { composite: false, emitDeclarationOnly: false } },
    target: 'es2020',
    platform: 'browser',
    outDir: 'dist',
    clean: true,
    sourcemap: true,
  },
  {
    // `@tally/sdk/query`: the typed query client, for Node and browsers. Types come from @tally/shared by
    // `import type`, so the JS imports nothing and no zod is bundled; its d.ts names the @tally/shared types.
    entry: { query: 'src/query/index.ts' },
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { composite: false, emitDeclarationOnly: false } },
    target: 'es2022',
    platform: 'neutral',
    outDir: 'dist',
    sourcemap: true,
  },
  {
    // The script tag: one minified IIFE. terser, not esbuild, because its `hoist_props` + `reduce_vars`
    // turn `LIMITS.batchMaxEvents` into the literal 100, so the shared limits object never ships.
    entry: { tally: 'src/script.ts' },
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    outDir: 'dist',
    outExtension: () => ({ js: '.js' }),
    minify: 'terser',
    terserOptions: { compress: { passes: 3, unsafe_arrows: true }, mangle: true, format: { comments: false } },
  },
]);
