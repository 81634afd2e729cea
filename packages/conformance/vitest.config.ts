import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: '@verb-tcp/conformance',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // test/broken.test.ts runs each broken server's cases at once, this many at a time.
    maxConcurrency: 8,
    hookTimeout: 60_000,
  },
})
