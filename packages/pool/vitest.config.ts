import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/pool', include: ['test/**/*.test.ts'] },
})
