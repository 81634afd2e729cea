import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TCPFileTransferServer } from '@verb-tcp/file-transfer'
import { type Listening, listen, proxy } from './listen.ts'

/**
 * A file-transfer server for the tests: `@verb-tcp/file-transfer`'s `TCPFileTransferServer`
 * (the docs' protocol over json-frames) on a fresh directory, behind a message-aware proxy.
 * With no break every message passes; each `FileBreak` makes the pair break one rule, most of
 * them the way the verb docs' `TCPFileTransferServer` does (the name used as a path, chunks
 * appended as they come, no digest, no limits, file_complete without a SHA-256).
 */
export type FileBreak =
  | 'no-name-rules' // any name accepted (the docs' uploadDir + "/" + filename)
  | 'ascii-only-names' // a non-ASCII name refused
  | 'complete-without-sha256' // the docs' file_complete: no sha256
  | 'zero-byte-refused' // an empty upload refused
  | 'no-digest-check' // SHA-256 never checked
  | 'no-offset-check' // chunks appended as they come, whatever their index or offset
  | 'size-not-enforced' // a chunk past the declared size accepted
  | 'end-publishes-partial' // file_end completes whatever arrived
  | 'end-idempotent-complete' // a second file_end answered with file_complete again
  | 'unknown-chunk-ignored' // a chunk for an unknown transfer is dropped without a reply
  | 'lenient-base64' // data decoded leniently (Buffer.from(x, 'base64') skips bad characters)
  | 'no-field-checks' // missing or negative fileSize taken as 0
  | 'no-size-limit' // any declared size accepted
  | 'no-quota' // any number of concurrent uploads
  | 'cancel-keeps-transfer' // file_cancel answered, the transfer goes on
  | 'rename-duplicates' // a name already used is silently given another
  | 'no-resume' // uploadId ignored: a resume starts over

// biome-ignore lint/suspicious/noExplicitAny: messages are read field by field
type Message = Record<string, any>

const encode = (m: Message | Buffer) => {
  const body = Buffer.isBuffer(m) ? m : Buffer.from(JSON.stringify(m))
  return Buffer.concat([Buffer.from(`${body.length}\n`), body])
}

/** Splits json-frames into messages (or raw payloads that are not JSON). */
class Splitter {
  buf: Buffer = Buffer.alloc(0)
  push(chunk: Buffer): (Message | Buffer)[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    const out: (Message | Buffer)[] = []
    for (;;) {
      const lf = this.buf.indexOf(0x0a)
      if (lf < 0) break
      const length = Number(this.buf.subarray(0, lf).toString())
      if (this.buf.length < lf + 1 + length) break
      const payload = this.buf.subarray(lf + 1, lf + 1 + length)
      this.buf = this.buf.subarray(lf + 1 + length)
      try {
        out.push(JSON.parse(payload.toString()))
      } catch {
        out.push(Buffer.from(payload))
      }
    }
    return out
  }
}

let renamed = 0

export async function startFileServer(breaks: readonly FileBreak[] = []): Promise<Listening> {
  const has = (b: FileBreak) => breaks.includes(b)
  const dir = mkdtempSync(join(tmpdir(), 'conformance-files-'))
  const uploads = join(dir, 'uploads')
  mkdirSync(uploads)
  const files = new TCPFileTransferServer(
    uploads,
    has('no-quota') ? { maxConcurrentTransfers: 1000 } : {},
  )
  const upstream = await listen((socket) => {
    files.attach(socket)
  })
  const names = new Set<string>()
  const front = await proxy(upstream.port, (client: Socket, server: Socket) => {
    const fromClient = new Splitter()
    const fromServer = new Splitter()
    const transfers = new Map<string, { size: number; sent: number; name: string }>()
    const completed = new Map<string, Message>()
    const toClient = (m: Message) => client.write(encode(m))
    /** What to forward for a client message (undefined: nothing). */
    const c2s = (m: Message): Message | undefined => {
      const id = m.transferId
      if (m.type === 'file_start') {
        if (has('no-name-rules') && typeof m.filename === 'string')
          m.filename = `renamed-${++renamed}.bin`
        if (has('ascii-only-names') && /[^\x20-\x7e]/.test(m.filename)) {
          toClient({
            type: 'error',
            code: 'name_invalid',
            transferId: id,
            message: 'ASCII names only',
          })
          return undefined
        }
        if (has('rename-duplicates')) {
          if (names.has(m.filename)) m.filename = `renamed-${++renamed}-${m.filename}`
          names.add(m.filename)
        }
        if (has('zero-byte-refused') && m.fileSize === 0) {
          toClient({ type: 'error', code: 'bad_request', transferId: id, message: 'empty file' })
          return undefined
        }
        if (has('no-digest-check')) delete m.sha256
        if (has('no-field-checks') && !(m.fileSize >= 0)) m.fileSize = 0
        if (has('no-size-limit') && m.fileSize > 2 ** 40) m.fileSize = 4
        if (has('size-not-enforced')) m.fileSize = (m.fileSize ?? 0) + 1024
        if (has('no-resume')) delete m.uploadId
        transfers.set(id, { size: m.fileSize, sent: 0, name: m.filename })
      }
      const t = transfers.get(id)
      if (m.type === 'file_chunk') {
        if (!t && has('unknown-chunk-ignored')) return undefined
        if (has('lenient-base64') && typeof m.data === 'string')
          m.data = Buffer.from(m.data, 'base64').toString('base64')
        if (has('no-offset-check') && t) {
          m.offset = t.sent
          delete m.chunkIndex
        }
        if (t && typeof m.data === 'string') t.sent += Buffer.from(m.data, 'base64').length
      }
      if (m.type === 'file_end') {
        if (has('no-digest-check')) delete m.sha256
        if (has('end-idempotent-complete') && completed.has(id)) {
          toClient(completed.get(id) as Message)
          return undefined
        }
        if (has('end-publishes-partial') && t && t.sent < t.size) {
          toClient({
            type: 'file_complete',
            transferId: id,
            filename: t.name,
            receivedBytes: t.sent,
          })
          return undefined
        }
      }
      if (m.type === 'file_cancel' && has('cancel-keeps-transfer')) {
        toClient({ type: 'file_cancelled', transferId: id })
        return undefined
      }
      return m
    }
    const s2c = (m: Message): Message => {
      const t = transfers.get(m.transferId)
      if (m.type === 'file_start_ack' && t && typeof m.offset === 'number') t.sent = m.offset
      if (m.type === 'file_complete') {
        completed.set(m.transferId, m)
        if (has('complete-without-sha256')) delete m.sha256
      }
      return m
    }
    client.on('data', (chunk: Buffer) => {
      const out: Buffer[] = []
      for (const m of fromClient.push(chunk)) {
        if (Buffer.isBuffer(m)) out.push(encode(m))
        else {
          const f = c2s(m)
          if (f) out.push(encode(f))
        }
      }
      if (out.length > 0) server.write(Buffer.concat(out))
    })
    server.on('data', (chunk: Buffer) => {
      const out = fromServer.push(chunk).map((m) => encode(Buffer.isBuffer(m) ? m : s2c(m)))
      if (out.length > 0) client.write(Buffer.concat(out))
    })
  })
  return {
    port: front.port,
    close: async () => {
      await front.close()
      await upstream.close()
      await files.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
