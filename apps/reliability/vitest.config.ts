import { defineProject } from 'vitest/config'

// The quick suite drives real server processes: generous per-test limits, one file at a time,
// and a later group than every other project so its timing-sensitive scenarios (the observer's
// round trips under attack) do not share the two CI cores with the unit tests.
export default defineProject({
  test: {
    name: '@verb-tcp/reliability',
    include: ['test/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    sequence: { groupOrder: 1 },
  },
})
