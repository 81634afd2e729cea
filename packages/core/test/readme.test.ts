// Every code block of the README, extracted, type-checked and run as a user would run it.

import { fileURLToPath } from 'node:url'
import { testReadme } from '@verb-tcp/readme-examples'
import { expect } from 'vitest'

testReadme(new URL('../README.md', import.meta.url), {
  // The TLS example's two certificate pairs.
  env: { CERTS: fileURLToPath(new URL('fixtures', import.meta.url)) },
  expect: {
    'TLS certificate reload': ({ stdout }) =>
      expect(stdout).toMatch(
        /^renewed, valid to .+ 2126 GMT\nnew connections get the new certificate: true\nthe old connection: still here\n$/,
      ),
    Example: ({ stdout }) =>
      expect(stdout).toBe('Welcome to TCP server!\nEcho: hello\n{ closed: 1, forced: 0 }\n'),
    'Reconnecting client': ({ stdout }) => expect(stdout).toMatch(/^connected from port \d+\n$/),
  },
})
