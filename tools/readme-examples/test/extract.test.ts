import { expect, it } from 'vitest'
import { extractExamples } from '../src/index.ts'

it('extracts blocks with their heading, line, language and fragment flag', () => {
  const md = [
    '# Title', // 1
    '', // 2
    '```ts', // 3
    'const a = 1', // 4
    '```', // 5
    '## Usage of `x`', // 6
    'Run this:', // 7
    '~~~sh', // 8
    'npm test', // 9
    '~~~', // 10
    'This one is a fragment:', // 11
    '````typescript title', // 12
    '```', // 13
    'b()', // 14
    '````', // 15
    '```ts', // 16
    'c()', // 17
    '```', // 18
  ].join('\n')
  expect(extractExamples(md)).toEqual([
    {
      name: 'Title',
      heading: 'Title',
      line: 4,
      lang: 'ts',
      code: 'const a = 1\n',
      fragment: false,
    },
    {
      name: 'Usage of x',
      heading: 'Usage of x',
      line: 9,
      lang: 'sh',
      code: 'npm test\n',
      fragment: false,
    },
    {
      name: 'Usage of x (2)',
      heading: 'Usage of x',
      line: 13,
      lang: 'typescript',
      code: '```\nb()\n',
      fragment: true,
    },
    {
      name: 'Usage of x (3)',
      heading: 'Usage of x',
      line: 17,
      lang: 'ts',
      code: 'c()\n',
      fragment: false,
    },
  ])
})

it('reads an unclosed block to the end of the document', () => {
  expect(extractExamples('```ts\nx()').map((e) => e.code)).toEqual(['x()\n'])
})
