import { defineProject } from 'vitest/config'

// The quick suite drives real server processes for a few minutes in all: generous per-test
// limits, and one file at a time so its scenarios do not compete with each other for the CPU.
export default defineProject({
  test: {
    name: '@verb-tcp/reliability',
    include: ['test/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
})
