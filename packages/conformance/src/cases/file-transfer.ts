import { createHash, randomBytes } from 'node:crypto'
import { showValue } from '../describe.ts'
import { fail } from '../errors.ts'
import { JsonClient, message } from '../json-wire.ts'
import type { Case, CaseContext } from '../types.ts'
import { cases } from './define.ts'

/**
 * The verb docs' file transfer over json-frames (the demo's message port): `file_start`,
 * base64 `file_chunk`s, `file_end`, `file_cancel`; replies `file_start_ack`, `file_chunk_ack`,
 * `file_complete`, `file_cancelled` and coded `error`s. What a case cannot see from outside
 * (the file system) it checks through the protocol: a name that was never published can be
 * started again.
 */

const RULES = 'file-transfer README, Safety rules'
const WIRE = 'file-transfer README, Wire formats'
const ERRORS = 'file-transfer README, Errors'

// biome-ignore lint/suspicious/noExplicitAny: replies are untrusted JSON, read field by field
type Reply = Record<string, any>

const unique = (tag: string) => `conformance-${tag}-${randomBytes(6).toString('hex')}.bin`
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

class Uploads {
  readonly c: JsonClient
  #n = 0
  constructor(c: JsonClient) {
    this.c = c
  }

  static async open(t: CaseContext): Promise<Uploads> {
    return new Uploads(await JsonClient.open(t))
  }

  newId(): string {
    return `t${++this.#n}-${randomBytes(4).toString('hex')}`
  }

  send(m: Reply): Promise<void> {
    return this.c.send(message(m))
  }

  /** The next reply about `transferId` of one of `types` (or an error about it). */
  async reply(transferId: string, types: string[], sent: string): Promise<Reply> {
    const r = await this.c.next(
      (m) =>
        m.transferId === transferId &&
        m.type !== 'file_progress' &&
        (types.length === 0 || types.includes(m.type as string) || m.type === 'error'),
      sent,
    )
    if ('end' in r)
      fail(
        sent,
        `${types.length === 0 ? 'a reply' : types.join(' or ')} for ${transferId}`,
        r.end === 'closed' ? 'the connection closed' : 'no reply',
      )
    return r.value
  }

  async expectType(transferId: string, type: string, sent: string): Promise<Reply> {
    const m = await this.reply(transferId, [type], sent)
    if (m.type !== type) fail(sent, type, showValue(m))
    return m
  }

  async expectError(transferId: string, codes: string[], sent: string): Promise<Reply> {
    const m = await this.reply(transferId, [], sent)
    if (m.type !== 'error' || !codes.includes(m.code))
      fail(sent, `an error with code ${codes.join(' or ')}`, showValue(m))
    return m
  }

  /** file_start, acknowledged with status ready. */
  async start(
    transferId: string,
    filename: string,
    fileSize: number,
    chunkSize = 4,
    extra: Reply = {},
  ): Promise<Reply> {
    const sent = `file_start ${showValue(filename)} (${fileSize} bytes)`
    await this.send({ type: 'file_start', transferId, filename, fileSize, chunkSize, ...extra })
    return this.expectType(transferId, 'file_start_ack', sent)
  }

  chunk(transferId: string, chunkIndex: number, data: Buffer, extra: Reply = {}): Promise<void> {
    return this.send({
      type: 'file_chunk',
      transferId,
      chunkIndex,
      data: data.toString('base64'),
      ...extra,
    })
  }

  /** A name that was refused or never published can be started again: then cancelled. */
  async nameIsFree(filename: string, after: string): Promise<void> {
    const id = this.newId()
    await this.send({ type: 'file_start', transferId: id, filename, fileSize: 1, chunkSize: 1 })
    const m = await this.reply(id, ['file_start_ack'], after)
    if (m.type !== 'file_start_ack')
      fail(after, `nothing published: ${showValue(filename)} can be started again`, showValue(m))
    await this.send({ type: 'file_cancel', transferId: id })
    await this.expectType(id, 'file_cancelled', `file_cancel after ${after}`)
  }

  /** A whole upload in chunks of `chunkSize`, ending in file_complete. */
  async upload(
    filename: string,
    content: Buffer,
    chunkSize = 4,
    endExtra: Reply = {},
  ): Promise<Reply> {
    const id = this.newId()
    await this.start(id, filename, content.length, chunkSize)
    for (let i = 0; i * chunkSize < content.length; i++) {
      await this.chunk(id, i, content.subarray(i * chunkSize, (i + 1) * chunkSize))
      await this.expectType(id, 'file_chunk_ack', `file_chunk ${i}`)
    }
    await this.send({ type: 'file_end', transferId: id, ...endExtra })
    return this.expectType(id, 'file_complete', `file_end for ${filename}`)
  }
}

/** A file_start with `fields` refused with one of `codes`. */
const refusedStart = (
  id: string,
  title: string,
  fields: Reply,
  codes: string[],
  expect: string,
): Case => ({
  id,
  title,
  section: ERRORS,
  expect,
  run: async (t) => {
    const u = await Uploads.open(t)
    const tid = u.newId()
    await u.send({ type: 'file_start', transferId: tid, chunkSize: 4, ...fields })
    await u.expectError(tid, codes, title)
  },
})

/**
 * An upload of `content` cut off after its first 4 bytes (the connection destroyed), and a new
 * connection that resumes it with the ack's uploadId: the resumed transfer's id and its ack.
 */
async function interrupted(
  t: CaseContext,
  name: string,
  content: Buffer,
): Promise<{ v: Uploads; id: string; ack: Reply }> {
  const u = await Uploads.open(t)
  const first = u.newId()
  const started = await u.start(first, name, content.length)
  await u.chunk(first, 0, content.subarray(0, 4))
  await u.expectType(first, 'file_chunk_ack', 'file_chunk 0')
  u.c.peer.destroy()
  const v = await Uploads.open(t)
  const id = v.newId()
  const ack = await v.start(id, name, content.length, 4, { uploadId: started.uploadId })
  if (ack.offset !== 4)
    fail(
      `file_start with the uploadId after 4 of ${content.length} bytes`,
      'offset 4',
      showValue(ack),
    )
  return { v, id, ack }
}

/** A name the rules refuse: name_invalid, and the connection still takes a good upload. */
const badName = (id: string, title: string, name: string): Case => ({
  id,
  title: `file name ${title}: ${showValue(name).slice(0, 60)}`,
  section: RULES,
  expect: 'refuses it with name_invalid (never used as a path); the connection still takes uploads',
  run: async (t) => {
    const u = await Uploads.open(t)
    const tid = u.newId()
    const sent = `file_start with filename ${showValue(name).slice(0, 60)}`
    await u.send({ type: 'file_start', transferId: tid, filename: name, fileSize: 4, chunkSize: 4 })
    await u.expectError(tid, ['name_invalid'], sent)
    await u.upload(unique('after-bad-name'), Buffer.from('okay'))
  },
})

export const fileTransferCases: readonly Case[] = cases('file-transfer', [
  // 1. Names
  badName('1.1', 'climbing out', '../x'),
  badName('1.2', 'climbing out from a subfolder', 'a/../../x'),
  badName('1.3', 'absolute', '/etc/passwd'),
  badName('1.4', 'with backslashes', '..\\x'),
  badName('1.5', 'with a drive letter', 'C:\\x'),
  badName('1.6', 'with a NUL', 'a\u0000.txt'),
  badName('1.7', 'empty', ''),
  badName('1.8', '"."', '.'),
  badName('1.9', '".."', '..'),
  badName('1.10', 'of 256 bytes', 'a'.repeat(256)),
  badName('1.11', 'with a control character', 'a\nb.txt'),
  badName('1.12', 'of only dots and spaces', '. . .'),
  badName('1.13', 'ending in a dot', 'report.'),
  badName('1.14', 'in full-width dots (NFKC "..")', '\uff0e\uff0e'),
  badName('1.15', 'with a full-width solidus (NFKC "../x")', '..\uff0fx'),
  badName('1.16', 'with a bidi override', '\u202etxt.exe'),
  badName('1.17', 'with a lone surrogate', 'a\ud800b'),
  badName('1.18', 'reserved on Windows', 'CON'),
  badName('1.19', 'reserved on Windows, with an extension', 'nul.txt'),
  badName('1.20', 'reserved on Windows, in another case', 'Com1.log'),
  {
    id: '1.21',
    title: 'a name of exactly 255 UTF-8 bytes (multibyte characters)',
    section: RULES,
    expect: 'accepts it (the limit counts bytes) and publishes it under that name',
    run: async (t) => {
      const u = await Uploads.open(t)
      const name = `${randomBytes(4).toString('hex')}${'é'.repeat(123)}x` // 8 + 246 + 1 bytes
      const done = await u.upload(name, Buffer.from('255'))
      if (done.filename !== name)
        fail(
          'an upload named with 255 bytes',
          'file_complete with that filename',
          showValue(done.filename),
        )
    },
  },
  // 2. Transfers
  {
    id: '2.1',
    title: 'an upload in three base64 chunks',
    section: WIRE,
    expect:
      'file_start_ack (status ready), a file_chunk_ack per chunk, file_complete with the size and the SHA-256 of the bytes',
    run: async (t) => {
      const u = await Uploads.open(t)
      const content = randomBytes(10)
      const done = await u.upload(unique('three-chunks'), content, 4)
      if (done.receivedBytes !== 10 || done.sha256 !== sha256(content))
        fail('10 bytes in 3 chunks', `receivedBytes 10, sha256 ${sha256(content)}`, showValue(done))
    },
  },
  {
    id: '2.2',
    title: 'a zero-byte upload',
    section: WIRE,
    expect: 'file_complete with receivedBytes 0 and the SHA-256 of nothing',
    run: async (t) => {
      const u = await Uploads.open(t)
      const done = await u.upload(unique('empty'), Buffer.alloc(0))
      if (done.receivedBytes !== 0 || done.sha256 !== sha256(Buffer.alloc(0)))
        fail('an empty upload', 'receivedBytes 0 and the empty SHA-256', showValue(done))
    },
  },
  {
    id: '2.3',
    title: 'a wrong SHA-256 at file_end',
    section: ERRORS,
    expect: 'checksum_mismatch, and nothing published: the name can be started again',
    run: async (t) => {
      const u = await Uploads.open(t)
      const name = unique('wrong-digest')
      const id = u.newId()
      await u.start(id, name, 4)
      await u.chunk(id, 0, Buffer.from('abcd'))
      await u.expectType(id, 'file_chunk_ack', 'file_chunk 0')
      await u.send({ type: 'file_end', transferId: id, sha256: '0'.repeat(64) })
      await u.expectError(id, ['checksum_mismatch'], 'file_end with a wrong sha256')
      await u.nameIsFree(name, 'a wrong digest')
    },
  },
  {
    id: '2.4',
    title: 'a wrong SHA-256 declared at file_start',
    section: ERRORS,
    expect: 'checksum_mismatch at file_end, nothing published',
    run: async (t) => {
      const u = await Uploads.open(t)
      const name = unique('wrong-declared-digest')
      const id = u.newId()
      await u.start(id, name, 4, 4, { sha256: 'f'.repeat(64) })
      await u.chunk(id, 0, Buffer.from('abcd'))
      await u.expectType(id, 'file_chunk_ack', 'file_chunk 0')
      await u.send({ type: 'file_end', transferId: id })
      await u.expectError(id, ['checksum_mismatch'], 'file_end after a wrong declared sha256')
      await u.nameIsFree(name, 'a wrong declared digest')
    },
  },
  {
    id: '2.5',
    title: 'a chunk out of order (index 1 before 0)',
    section: ERRORS,
    expect: 'offset_mismatch with expected 0; chunk 0 then goes on',
    run: async (t) => {
      const u = await Uploads.open(t)
      const id = u.newId()
      await u.start(id, unique('out-of-order'), 8)
      await u.chunk(id, 1, Buffer.from('efgh'))
      const e = await u.expectError(id, ['offset_mismatch'], 'file_chunk 1 first')
      if (e.expected !== 0) fail('file_chunk 1 first', 'expected: 0', showValue(e))
      await u.chunk(id, 0, Buffer.from('abcd'))
      await u.expectType(id, 'file_chunk_ack', 'file_chunk 0 after the refused one')
    },
  },
  {
    id: '2.6',
    title: 'the same chunk twice',
    section: ERRORS,
    expect: 'offset_mismatch with expected 4 for the duplicate',
    run: async (t) => {
      const u = await Uploads.open(t)
      const id = u.newId()
      await u.start(id, unique('duplicate'), 8)
      await u.chunk(id, 0, Buffer.from('abcd'))
      await u.expectType(id, 'file_chunk_ack', 'file_chunk 0')
      await u.chunk(id, 0, Buffer.from('abcd'))
      const e = await u.expectError(id, ['offset_mismatch'], 'file_chunk 0 again')
      if (e.expected !== 4) fail('file_chunk 0 again', 'expected: 4', showValue(e))
    },
  },
  {
    id: '2.7',
    title: 'resume, then a chunk at an offset past the file size',
    section: ERRORS,
    expect:
      'refused (offset_mismatch at the resume offset, or too_large); the upload then completes from its offset',
    run: async (t) => {
      const content = Buffer.from('abcdefgh')
      const { v, id: id2 } = await interrupted(t, unique('resume-past-size'), content)
      await v.chunk(id2, 3, Buffer.from('zzzz'), { offset: 12 })
      await v.expectError(
        id2,
        ['offset_mismatch', 'too_large'],
        'a chunk at offset 12 of an 8-byte file',
      )
      await v.chunk(id2, 1, content.subarray(4), { offset: 4 })
      await v.expectType(id2, 'file_chunk_ack', 'the chunk at offset 4')
      await v.send({ type: 'file_end', transferId: id2 })
      const done = await v.expectType(id2, 'file_complete', 'file_end')
      if (done.sha256 !== sha256(content))
        fail('a resumed upload', `sha256 ${sha256(content)}`, showValue(done))
    },
  },
  {
    id: '2.8',
    title: 'a chunk that goes past the declared size',
    section: ERRORS,
    expect: 'too_large, and the transfer is removed (a chunk after it: not_found)',
    run: async (t) => {
      const u = await Uploads.open(t)
      const id = u.newId()
      await u.start(id, unique('past-size'), 4, 8)
      await u.chunk(id, 0, Buffer.from('abcdefgh'))
      await u.expectError(id, ['too_large'], '8 bytes for a 4-byte file')
      await u.chunk(id, 0, Buffer.from('abcd'))
      await u.expectError(id, ['not_found'], 'a chunk after too_large')
    },
  },
  {
    id: '2.9',
    title: 'file_end before every byte arrived',
    section: ERRORS,
    expect: 'size_mismatch with expected = the size; the upload can go on and complete',
    run: async (t) => {
      const u = await Uploads.open(t)
      const id = u.newId()
      await u.start(id, unique('early-end'), 8)
      await u.chunk(id, 0, Buffer.from('abcd'))
      await u.expectType(id, 'file_chunk_ack', 'file_chunk 0')
      await u.send({ type: 'file_end', transferId: id })
      const e = await u.expectError(id, ['size_mismatch'], 'file_end after 4 of 8 bytes')
      if (e.expected !== 8) fail('file_end after 4 of 8 bytes', 'expected: 8', showValue(e))
      await u.chunk(id, 1, Buffer.from('efgh'))
      await u.expectType(id, 'file_chunk_ack', 'file_chunk 1')
      await u.send({ type: 'file_end', transferId: id })
      await u.expectType(id, 'file_complete', 'file_end after all 8 bytes')
    },
  },
  {
    id: '2.10',
    title: 'file_end twice',
    section: ERRORS,
    expect: 'the second gets not_found',
    run: async (t) => {
      const u = await Uploads.open(t)
      const id = u.newId()
      await u.start(id, unique('end-twice'), 0)
      await u.send({ type: 'file_end', transferId: id })
      await u.expectType(id, 'file_complete', 'file_end')
      await u.send({ type: 'file_end', transferId: id })
      await u.expectError(id, ['not_found'], 'a second file_end')
    },
  },
  {
    id: '2.11',
    title: 'a chunk for a transfer that was never started',
    section: ERRORS,
    expect: 'not_found; the connection still takes uploads',
    run: async (t) => {
      const u = await Uploads.open(t)
      const id = u.newId()
      await u.chunk(id, 0, Buffer.from('abcd'))
      await u.expectError(id, ['not_found'], 'file_chunk for an unknown transferId')
      await u.upload(unique('after-not-found'), Buffer.from('ok'))
    },
  },
  {
    id: '2.12',
    title: 'a chunk whose data is not base64',
    section: ERRORS,
    expect: 'bad_request; the transfer is unchanged (the right chunk is then acknowledged)',
    run: async (t) => {
      const u = await Uploads.open(t)
      const id = u.newId()
      await u.start(id, unique('bad-base64'), 4)
      await u.send({ type: 'file_chunk', transferId: id, chunkIndex: 0, data: '!!not base64!!' })
      await u.expectError(id, ['bad_request'], 'file_chunk with data "!!not base64!!"')
      await u.chunk(id, 0, Buffer.from('abcd'))
      await u.expectType(id, 'file_chunk_ack', 'the right chunk')
    },
  },
  refusedStart(
    '2.13',
    'file_start without a fileSize',
    { filename: unique('no-size') },
    ['bad_request'],
    'bad_request',
  ),
  refusedStart(
    '2.14',
    'file_start with a negative fileSize',
    { filename: unique('negative'), fileSize: -1 },
    ['bad_request'],
    'bad_request',
  ),
  refusedStart(
    '2.15',
    'file_start declaring 2^53 − 1 bytes',
    { filename: unique('huge'), fileSize: Number.MAX_SAFE_INTEGER },
    ['too_large', 'quota'],
    'refused up front: too_large (over the size limit) or quota (over the free space)',
  ),
  {
    id: '2.16',
    title: 'uploads opened on one connection until one is refused (at most 64)',
    section: ERRORS,
    expect: 'a quota error before 64 concurrent uploads; the refused one is not started',
    run: async (t) => {
      const u = await Uploads.open(t)
      for (let i = 0; i < 64; i++) {
        const id = u.newId()
        await u.send({
          type: 'file_start',
          transferId: id,
          filename: unique(`quota-${i}`),
          fileSize: 4,
          chunkSize: 4,
        })
        const m = await u.reply(id, ['file_start_ack'], `file_start number ${i + 1}`)
        if (m.type === 'file_start_ack') continue
        if (m.code !== 'quota')
          fail(`file_start number ${i + 1}`, 'file_start_ack or a quota error', showValue(m))
        await u.chunk(id, 0, Buffer.from('abcd'))
        await u.expectError(id, ['not_found'], 'a chunk for the refused upload')
        return
      }
      fail(
        '64 concurrent uploads on one connection',
        'a quota error before the 64th',
        '64 acknowledgements',
      )
    },
  },
  {
    id: '2.17',
    title: 'file_cancel mid-upload',
    section: WIRE,
    expect: 'file_cancelled; a chunk after it: not_found; nothing published (the name is free)',
    run: async (t) => {
      const u = await Uploads.open(t)
      const name = unique('cancel')
      const id = u.newId()
      await u.start(id, name, 8)
      await u.chunk(id, 0, Buffer.from('abcd'))
      await u.expectType(id, 'file_chunk_ack', 'file_chunk 0')
      await u.send({ type: 'file_cancel', transferId: id })
      await u.expectType(id, 'file_cancelled', 'file_cancel')
      await u.chunk(id, 1, Buffer.from('efgh'))
      await u.expectError(id, ['not_found'], 'a chunk after file_cancel')
      await u.nameIsFree(name, 'a cancelled upload')
    },
  },
  {
    id: '2.18',
    title: 'a second upload to a published name',
    section: RULES,
    expect: 'refused with exists (no silent overwrite)',
    run: async (t) => {
      const u = await Uploads.open(t)
      const name = unique('exists')
      await u.upload(name, Buffer.from('first'))
      const id = u.newId()
      await u.send({
        type: 'file_start',
        transferId: id,
        filename: name,
        fileSize: 6,
        chunkSize: 6,
      })
      await u.expectError(id, ['exists'], `file_start ${name} again`)
    },
  },
  {
    id: '2.19',
    title: 'two uploads to the same new name at once',
    section: RULES,
    expect: 'the second is refused with exists while the first is open',
    run: async (t) => {
      const u = await Uploads.open(t)
      const name = unique('race')
      await u.start(u.newId(), name, 4)
      const id = u.newId()
      await u.send({
        type: 'file_start',
        transferId: id,
        filename: name,
        fileSize: 4,
        chunkSize: 4,
      })
      await u.expectError(id, ['exists'], `a second file_start of ${name} while the first is open`)
    },
  },
  {
    id: '2.20',
    title: 'an upload cut off by a disconnect, resumed on a new connection',
    section: WIRE,
    expect:
      'file_start with the uploadId resumes at the bytes received (resumed: true) and completes with the whole SHA-256',
    run: async (t) => {
      const content = randomBytes(12)
      const { v, id: id2, ack: again } = await interrupted(t, unique('resume'), content)
      if (again.resumed !== true)
        fail('file_start with the uploadId', 'resumed: true', showValue(again))
      for (const i of [1, 2]) {
        await v.chunk(id2, i, content.subarray(i * 4, i * 4 + 4))
        await v.expectType(id2, 'file_chunk_ack', `file_chunk ${i}`)
      }
      await v.send({ type: 'file_end', transferId: id2 })
      const done = await v.expectType(id2, 'file_complete', 'file_end')
      if (done.sha256 !== sha256(content))
        fail('a resumed upload', `sha256 ${sha256(content)}`, showValue(done))
    },
  },
])
