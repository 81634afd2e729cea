import { defineProject } from 'vitest/config'

export default defineProject({
  // The tests start server and client processes; on a loaded machine that takes seconds.
  test: { name: '@verb-tcp/demo-server', include: ['test/**/*.test.ts'], testTimeout: 30_000 },
})
