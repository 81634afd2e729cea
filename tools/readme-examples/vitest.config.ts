import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: '@verb-tcp/readme-examples',
    include: ['test/**/*.test.ts'],
    // A type check runs the TypeScript compiler in the test's thread: seconds on a loaded
    // 2-core CI machine, past vitest's 5 s default.
    testTimeout: 120_000,
  },
})
