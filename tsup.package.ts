import { defineConfig } from 'tsup'

/**
 * How every published package builds: ESM + CJS + declarations for Node 20. A package's
 * tsup.config.ts is `export default packageConfig()`, naming extra entry points if it has any.
 */
export function packageConfig(entry: string[] = ['src/index.ts']) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    // Members marked `@internal` stay out of the published declarations: a user cannot type
    // against what may change in any release.
    dts: { compilerOptions: { stripInternal: true } },
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
  })
}
