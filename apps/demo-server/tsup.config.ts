import { defineConfig } from 'tsup'

// An app, not a library: one ESM entry point that node runs, no declarations, no CJS.
// Dependencies (@verb-tcp/core, pino) stay external and are resolved from node_modules.
export default defineConfig({
  entry: ['src/cli.ts', 'src/client.ts'],
  format: ['esm'],
  dts: false,
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
})
