import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/core', include: ['test/**/*.test.ts'] },
})
