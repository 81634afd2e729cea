// Every code block of the README, extracted, type-checked and run as a user would run it.
import { testReadme } from '@verb-tcp/readme-examples'
import { expect } from 'vitest'

testReadme(new URL('../README.md', import.meta.url), {
  expect: {
    Example: ({ stdout }) =>
      expect(stdout).toBe('Welcome to TCP server!\nEcho: hello\n{ closed: 1, forced: 0 }\n'),
    'Reconnecting client': ({ stdout }) => expect(stdout).toMatch(/^connected from port \d+\n$/),
  },
})
