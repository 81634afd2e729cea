import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/api-surface', include: ['test/**/*.test.ts'] },
})
