// Every code block of the README, extracted, type-checked and run as a user would run it.
import { testReadme } from '@verb-tcp/readme-examples'
import { expect } from 'vitest'

testReadme(new URL('../README.md', import.meta.url), {
  expect: {
    Example: ({ stdout }) => expect(stdout).toBe("{ type: 'response', echo: 'héllo' }\n"),
    'Example (2)': ({ stdout }) => expect(stdout).toBe('{ n: 1 }\n{ n: 2 }\n'),
    'Waiting for one message: not with events.once': ({ stdout }) =>
      expect(stdout).toBe('{ ok: true } skipped: 1\n'),
  },
})
