// testReadme end to end, on a tiny package under test/fixtures.
import { expect } from 'vitest'
import { testReadme } from '../src/index.ts'

testReadme(new URL('./fixtures/pkg/README.md', import.meta.url), {
  expect: {
    Example: ({ stdout }) => expect(stdout).toBe('answer: 42\n'),
    'Two blocks': ({ stdout }) => expect(stdout).toBe('first\n'),
    'Two blocks (2)': ({ stdout }) => expect(stdout).toBe('second\n'),
  },
})
