// Every code block of the README, extracted, type-checked and run as a user would run it.
import { testReadme } from '@verb-tcp/readme-examples'
import { expect } from 'vitest'

testReadme(new URL('../README.md', import.meta.url), {
  expect: {
    Example: ({ stdout }) => expect(stdout).toBe('pong\nhello 1\n'),
    'Example (2)': ({ stdout }) => expect(stdout).toBe('16 a\n7 b\n'),
    'Waiting for one frame: not with events.once': ({ stdout }) => expect(stdout).toBe('pong\n'),
  },
})
