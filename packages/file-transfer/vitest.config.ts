import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/file-transfer', include: ['test/**/*.test.ts'] },
})
