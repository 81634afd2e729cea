import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/binary-frames', include: ['test/**/*.test.ts'] },
})
