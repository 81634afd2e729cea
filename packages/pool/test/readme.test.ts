// Every code block of the README, extracted, type-checked and run as a user would run it. The
// first one is the composition of pool and json-frames: its clients decode the notices.
import { testReadme } from '@verb-tcp/readme-examples'
import { expect } from 'vitest'

testReadme(new URL('../README.md', import.meta.url), {
  expect: {
    Example: ({ stdout }) =>
      expect(stdout).toBe(
        "{ type: 'server_full' }\n{ type: 'chat', text: 'hello' }\n{ accepted: 2, refusedByLimit: 1 }\n",
      ),
    'Example (2)': ({ stdout }) => expect(stdout).toBe('10\n'),
    'Example (3)': ({ stdout }) =>
      expect(stdout).toBe('{ pooled: 1, created: 1, reused: 0, dropped: 0 }\n'),
  },
})
