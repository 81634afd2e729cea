import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/demo-server', include: ['test/**/*.test.ts'] },
})
