// Every code block of the README, extracted, type-checked and run as a user would run it.
import { testReadme } from '@verb-tcp/readme-examples'
import { expect } from 'vitest'

testReadme(new URL('../README.md', import.meta.url), {
  expect: {
    'From your own tests': ({ stdout }) => expect(stdout).toBe('7 passed, 0 failed\n'),
  },
})
