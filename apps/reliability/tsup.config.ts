import { defineConfig } from 'tsup'

// A private tool, not a library: one ESM entry point that node runs, no declarations.
export default defineConfig({
  entry: ['src/cli.ts', 'src/observer-process.ts'],
  format: ['esm'],
  dts: false,
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
})
