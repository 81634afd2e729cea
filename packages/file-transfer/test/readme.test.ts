// The README's examples, extracted from README.md, type-checked and run against the build.
import { testReadme } from '@verb-tcp/readme-examples'
import { expect } from 'vitest'

testReadme(new URL('../README.md', import.meta.url), {
  expect: {
    'Example: the fast path': ({ stdout }) => {
      expect(stdout).toMatch(/100% /)
      expect(stdout).toMatch(/report\.bin: 3000000 bytes, sha256 [0-9a-f]{64}\n3000000\n$/)
    },
    "Example: the docs' protocol": ({ stdout }) =>
      expect(stdout).toBe('file_start_ack\nfile_chunk_ack\nfile_progress\nfile_complete\n'),
  },
})
