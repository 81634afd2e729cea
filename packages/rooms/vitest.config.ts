import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/rooms', include: ['test/**/*.test.ts'] },
})
