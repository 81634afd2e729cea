// Every TypeScript block of the README, extracted from it and run as written against dist.
import { testReadme } from '@verb-tcp/readme-examples'
import { expect } from 'vitest'

testReadme(new URL('../README.md', import.meta.url), {
  expect: {
    Example: ({ stdout }) => expect(stdout).toBe('hello\ntrue\n'),
    'Example (2)': ({ stdout }) =>
      expect(stdout).toBe('stream ended early: ERR_MUX_STREAM_RESET\nHELLO\n'),
  },
})
