import { readdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { closeAll } from '@verb-tcp/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { isValidName, nameProblem, Op, TCPFileTransferServer } from '../src/index.ts'
import {
  cleanup,
  client,
  DocsClient,
  docsServer,
  FastClient,
  fastServer,
  onCleanup,
  receiver,
  sandbox,
} from './helpers.ts'

afterEach(async () => {
  await closeAll()
  await cleanup()
})

/** Names a client might use to escape the upload directory or confuse a reader. */
const BAD_NAMES = [
  '../x',
  'a/../../x',
  '/etc/x',
  '..\\x',
  'C:\\x',
  'a\u0000b',
  '',
  '.',
  '..',
  '...',
  ' ',
  '. .',
  'x'.repeat(256),
  'é'.repeat(128), // 256 bytes in UTF-8
  'tab\there',
  'line\nbreak',
  'bell\u0007',
  'c1\u0085',
  'bidi\u202egnp.exe',
  '\uff0e\uff0e', // fullwidth dots: ".." under NFKC
  'a\uff0fb', // fullwidth solidus: "/" under NFKC
  'trailing.',
  'trailing ',
  '\ud800',
  '.partial',
  'CON', // Windows device names, with any extension, in any case
  'nul.txt',
  'Com1.log',
  'lpt9',
  'AUX .tar.gz',
  'com\u00b9', // COM¹
  '\uff23\uff2f\uff2e', // full-width CON: "CON" under NFKC
]

describe('name rules', () => {
  it.each(BAD_NAMES.map((n) => [JSON.stringify(n), n]))('refuses %s', (_, name) => {
    expect(nameProblem(name)).toEqual(expect.any(String))
    expect(isValidName(name)).toBe(false)
  })

  it.each([
    'report.pdf',
    '.hidden',
    'x'.repeat(255),
    'naïve résumé.txt',
    '日本語.txt',
    '..x',
    'a..b',
    '..%2Fx', // never URL-decoded: a literal name inside the directory
    'console.log', // a device name only as the whole stem
    'com10',
    'auxiliary.md',
  ])('accepts %s', (name) => {
    expect(nameProblem(name)).toBeUndefined()
  })

  it('refuses what is not a string', () => {
    for (const name of [undefined, null, 42, {}, ['a']]) expect(isValidName(name)).toBe(false)
  })
})

/** Everything in `root` besides the upload dir and the sentinel, and the sentinel's content. */
function outside(root: string, sentinel: string) {
  return {
    entries: readdirSync(root).sort(),
    sentinel: readFileSync(sentinel, 'utf8'),
  }
}

describe('traversal corpus over the wire (a sentinel file sits beside the upload directory)', () => {
  it('docs path: every bad name is name_invalid, nothing lands outside, the connection survives', async () => {
    const box = sandbox()
    const s = new TCPFileTransferServer(box.uploads)
    onCleanup(() => s.close())
    const c = new DocsClient(await client(await docsServer(s)))
    for (const [i, name] of BAD_NAMES.entries()) {
      c.send({ type: 'file_start', transferId: `t${i}`, filename: name, fileSize: 4, chunkSize: 4 })
      const reply = await c.type('file_start_ack')
      expect(reply, JSON.stringify(name)).toMatchObject({ type: 'error', code: 'name_invalid' })
      // A chunk for the refused transfer is not_found, never written anywhere.
      c.send({ type: 'file_chunk', transferId: `t${i}`, chunkIndex: 0, data: 'QUJDRA==' })
      expect(await c.type('file_chunk_ack')).toMatchObject({ type: 'error', code: 'not_found' })
    }
    expect(outside(box.root, box.sentinel)).toEqual({
      entries: ['sentinel', 'uploads'],
      sentinel: 'untouched',
    })
    expect(readdirSync(box.uploads)).toEqual(['.partial'])
    // Still usable.
    c.send({ type: 'file_start', transferId: 'ok', filename: 'ok.txt', fileSize: 4, chunkSize: 4 })
    expect(await c.type('file_start_ack')).toMatchObject({ type: 'file_start_ack' })
  })

  it('fast path: every bad name is name_invalid', async () => {
    const box = sandbox()
    const c = new FastClient(await client(await fastServer(receiver(box.uploads))))
    for (const [i, name] of BAD_NAMES.entries()) {
      c.json(Op.START, { ref: i, name, size: 4 })
      const reply = await c.next(Op.READY)
      expect(reply.op, JSON.stringify(name)).toBe(Op.ERROR)
      expect(reply.json).toMatchObject({ code: 'name_invalid', ref: i })
    }
    expect(outside(box.root, box.sentinel)).toEqual({
      entries: ['sentinel', 'uploads'],
      sentinel: 'untouched',
    })
  })
})

describe('planted symlinks', () => {
  it('a symlink inside the upload directory pointing outside is never written through', async () => {
    const box = sandbox()
    symlinkSync(box.sentinel, join(box.uploads, 'evil'))
    symlinkSync(join(box.root, 'nowhere'), join(box.uploads, 'dangling'))
    const c = new FastClient(await client(await fastServer(receiver(box.uploads))))
    for (const name of ['evil', 'dangling']) {
      c.json(Op.START, { ref: name, name, size: 4 })
      expect((await c.next(Op.READY)).json).toMatchObject({ code: 'exists' })
    }
    expect(readFileSync(box.sentinel, 'utf8')).toBe('untouched')
    expect(readdirSync(box.root).sort()).toEqual(['sentinel', 'uploads'])
  })

  it('with overwrite, publishing replaces the symlink itself, not its target', async () => {
    const box = sandbox()
    symlinkSync(box.sentinel, join(box.uploads, 'evil'))
    const s = new TCPFileTransferServer(box.uploads, { overwrite: true })
    onCleanup(() => s.close())
    const c = new DocsClient(await client(await docsServer(s)))
    c.send({ type: 'file_start', transferId: 1, filename: 'evil', fileSize: 4, chunkSize: 4 })
    expect(await c.type('file_start_ack')).toMatchObject({ type: 'file_start_ack' })
    c.send({
      type: 'file_chunk',
      transferId: 1,
      chunkIndex: 0,
      data: Buffer.from('data').toString('base64'),
    })
    c.send({ type: 'file_end', transferId: 1 })
    expect(await c.type('file_complete')).toMatchObject({ type: 'file_complete' })
    expect(readFileSync(box.sentinel, 'utf8')).toBe('untouched')
    expect(readFileSync(join(box.uploads, 'evil'), 'utf8')).toBe('data')
  })

  it('a symlink planted as the partial area is refused at startup', () => {
    const box = sandbox()
    symlinkSync(box.root, join(box.uploads, '.partial'))
    expect(() => new TCPFileTransferServer(box.uploads)).toThrow(/not a directory/)
  })
})
