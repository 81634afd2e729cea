import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/mux', include: ['test/**/*.test.ts'] },
})
