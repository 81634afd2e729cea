import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/readme-examples', include: ['test/**/*.test.ts'] },
})
