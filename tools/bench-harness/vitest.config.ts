import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/bench-harness', include: ['test/**/*.test.ts'] },
})
