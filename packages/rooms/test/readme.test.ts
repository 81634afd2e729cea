// The README's examples, extracted from the README and run against dist as written.
import { encodeMessage } from '@verb-tcp/json-frames'
import { testReadme } from '@verb-tcp/readme-examples'
import { expect, it } from 'vitest'

testReadme(new URL('../README.md', import.meta.url), {
  expect: {
    Example: ({ stdout }) => expect(stdout).toBe("user_joined room_message\n[ 'lobby' ] 2\n"),
    'Adapters: rooms on several nodes': ({ stdout }) => expect(stdout).toBe('2 A B\n'),
  },
})

it('README: the wire examples are what the default encoder writes', async () => {
  const { readFile } = await import('node:fs/promises')
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const lines = readme.split('\n').filter((line) => /^ {2}\d+\\n\{/.test(line))
  expect(lines).toHaveLength(3)
  for (const line of lines) {
    const json = line.trim().replace(/^\d+\\n/, '')
    expect(encodeMessage(JSON.parse(json)).toString().replace('\n', '\\n')).toBe(line.trim())
  }
})
