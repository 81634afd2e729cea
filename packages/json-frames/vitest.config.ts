import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/json-frames', include: ['test/**/*.test.ts'] },
})
