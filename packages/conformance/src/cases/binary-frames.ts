import { BinaryClient, binFrame, DATA, HEARTBEAT, header, PONG, showFrame } from '../binary-wire.ts'
import { showBytes } from '../describe.ts'
import { fail } from '../errors.ts'
import { fillSendWindow } from '../peer.ts'
import type { Case, CaseContext } from '../types.ts'
import { cases } from './define.ts'

/**
 * binary-frames, `u16 type | u32 length | u16 flags` big-endian then the payload, as the verb
 * docs' binary server speaks it: heartbeat (0x01) answered with PONG (0x02) "pong", DATA (0x10)
 * echoed with its flags, other types ignored.
 */

const WIRE = 'binary-frames README, Wire format'
const ERRORS = 'binary-frames README, Errors'
const PROFILE = 'demo-server README, The binary port'
const PONG_FRAME = { type: PONG, flags: 0, payload: Buffer.from('pong') }

async function stillServed(t: CaseContext, after: string): Promise<void> {
  const other = await BinaryClient.open(t)
  await other
    .heartbeat()
    .catch((error: Error) =>
      fail(after, 'other connections still served (heartbeat answered)', error.message),
    )
}

async function closes(t: CaseContext, bytes: Uint8Array, sent: string): Promise<void> {
  const c = await BinaryClient.open(t)
  await c.send(bytes)
  await c.expectClose(sent)
  await stillServed(t, sent)
}

function echo(
  t: CaseContext,
  payload: Buffer,
  flags: number,
  sent: string,
  cuts?: number[],
): Promise<void> {
  return (async () => {
    const c = await BinaryClient.open(t)
    const bytes = binFrame(DATA, payload, flags)
    if (cuts) await c.peer.writeSplit(bytes, cuts)
    else await c.send(bytes)
    await c.expectFrame(sent, { type: DATA, flags, payload })
  })()
}

export const binaryFramesCases: readonly Case[] = cases('binary-frames', [
  {
    id: '1.1',
    title: 'a heartbeat (00 01 00 00 00 00 00 00)',
    section: WIRE,
    expect: 'answers PONG: 00 02 00 00 00 04 00 00 70 6f 6e 67',
    run: async (t) => {
      const c = await BinaryClient.open(t)
      await c.heartbeat('<00 01 00 00 00 00 00 00>')
    },
  },
  {
    id: '1.2',
    title: 'a heartbeat with a payload',
    section: WIRE,
    expect: 'answers PONG "pong" all the same, and the payload is skipped exactly',
    run: async (t) => {
      const c = await BinaryClient.open(t)
      const bytes = Buffer.concat([
        binFrame(HEARTBEAT, Buffer.from('are you there?')),
        binFrame(HEARTBEAT),
      ])
      await c.send(bytes)
      await c.expectFrame(showBytes(bytes), PONG_FRAME)
      await c.expectFrame(showBytes(bytes), PONG_FRAME)
    },
  },
  {
    id: '1.3',
    title: 'DATA with asymmetric flags 0x0405 and payload "hello"',
    section: PROFILE,
    expect: 'echoes type, flags and payload exactly (big-endian fields)',
    run: (t) => echo(t, Buffer.from('hello'), 0x0405, 'DATA flags 0x0405 "hello"'),
  },
  {
    id: '1.4',
    title: 'a DATA header split at every byte offset 1-7',
    section: WIRE,
    expect: 'reassembles each header and echoes every frame',
    run: async (t) => {
      const c = await BinaryClient.open(t)
      for (let cut = 1; cut < 8; cut++) {
        const payload = Buffer.from(`cut${cut}`)
        const bytes = binFrame(DATA, payload, cut)
        await c.peer.writeSplit(bytes, [cut], 10)
        await c.expectFrame(`DATA "cut${cut}" with its header cut at byte ${cut}`, {
          type: DATA,
          flags: cut,
          payload,
        })
      }
    },
  },
  {
    id: '1.5',
    title: 'a DATA frame written one byte per read',
    section: WIRE,
    expect: 'echoes the frame',
    run: (t) =>
      echo(
        t,
        Buffer.from('byte by byte'),
        1,
        'DATA "byte by byte", one byte per read',
        Array.from({ length: 20 }, (_, i) => i + 1),
      ),
  },
  {
    id: '1.6',
    title: 'a zero-length DATA payload',
    section: WIRE,
    expect: 'echoes a DATA frame with an empty payload',
    run: (t) => echo(t, Buffer.alloc(0), 7, 'DATA with length 0'),
  },
  {
    id: '1.7',
    title: '1,000 frames in one write (DATA and heartbeats interleaved)',
    section: WIRE,
    expect: 'answers every one, in order',
    run: async (t) => {
      const c = await BinaryClient.open(t)
      const n = 1000
      const parts: Buffer[] = []
      for (let i = 0; i < n; i++)
        parts.push(
          i % 10 === 9 ? binFrame(HEARTBEAT) : binFrame(DATA, Buffer.from(String(i)), i & 0xffff),
        )
      await c.send(Buffer.concat(parts))
      for (let i = 0; i < n; i++) {
        const want =
          i % 10 === 9 ? PONG_FRAME : { type: DATA, flags: i, payload: Buffer.from(String(i)) }
        await c.expectFrame(`${n} frames in one write (answer ${i})`, want)
      }
    },
  },
  {
    id: '1.8',
    title: 'a DATA payload of 66,051 bytes (length 0x00010203)',
    section: WIRE,
    expect: 'echoes all of it',
    run: (t) => echo(t, Buffer.alloc(0x10203, 0xa5), 0x0102, 'DATA of 0x00010203 bytes'),
  },
  {
    id: '2.1',
    title: 'a header declaring 0xFFFFFFFF bytes',
    section: WIRE,
    expect: 'closes at the header (no answer), other connections still served',
    run: (t) => {
      const bytes = header(DATA, 0xffffffff)
      return closes(t, bytes, showBytes(bytes))
    },
  },
  {
    id: '2.2',
    title: 'a length with the high bit set (0x80000000, negative if read signed)',
    section: WIRE,
    expect: 'reads it unsigned, over the limit: closes',
    run: (t) => {
      const bytes = Buffer.concat([header(DATA, 0x80000000), Buffer.from('x')])
      return closes(t, bytes, showBytes(bytes))
    },
  },
  {
    id: '2.3',
    title: 'a header declaring one byte over the limit (--max-frame-bytes + 1), no payload',
    section: WIRE,
    expect: 'closes at the header, without waiting for the payload',
    run: (t) => {
      const bytes = header(DATA, t.maxFrameBytes + 1)
      return closes(t, bytes, showBytes(bytes))
    },
  },
  {
    id: '2.4',
    title: 'a DATA frame of exactly the limit (--max-frame-bytes)',
    section: WIRE,
    expect: 'accepts and echoes it',
    exclusive: true,
    run: async (t) => {
      const c = await BinaryClient.open(t)
      const payload = Buffer.alloc(t.maxFrameBytes, 0x5a)
      await c.send(binFrame(DATA, payload, 1))
      await c.expectFrame(`DATA of ${t.maxFrameBytes} bytes`, { type: DATA, flags: 1, payload })
    },
  },
  {
    id: '2.5',
    title: 'an HTTP request on the port',
    section: ERRORS,
    expect: 'fails at the first 8 bytes ("GET / HT" declares 0x2f204854 bytes): closes',
    run: (t) => {
      const bytes = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
      return closes(t, bytes, showBytes(bytes))
    },
  },
  {
    id: '2.6',
    title: 'a TLS ClientHello on the port',
    section: ERRORS,
    expect: 'closes (16 03 01 … declares an absurd length)',
    run: (t) => {
      const bytes = Buffer.from('160301020001000200030303', 'hex')
      return closes(t, Buffer.concat([bytes, Buffer.alloc(64, 0xee)]), showBytes(bytes))
    },
  },
  {
    id: '3.1',
    title: 'DATA with every flag bit set (0xFFFF, reserved bits included)',
    section: WIRE,
    expect: 'flags are passed through: echoes the frame with flags 0xFFFF',
    run: (t) => echo(t, Buffer.from('flags'), 0xffff, 'DATA with flags 0xFFFF'),
  },
  {
    id: '3.2',
    title: 'an unknown type (0x0102) whose payload looks like a heartbeat, then a heartbeat',
    section: PROFILE,
    expect: 'ignores the unknown frame (skipping its payload exactly) and answers exactly one PONG',
    run: async (t) => {
      const c = await BinaryClient.open(t)
      const bytes = Buffer.concat([binFrame(0x0102, binFrame(HEARTBEAT)), binFrame(HEARTBEAT)])
      const sent = showBytes(bytes)
      await c.send(bytes)
      await c.expectFrame(sent, PONG_FRAME)
      const extra = await c.next(sent, Math.min(300, t.timeout))
      if ('value' in extra)
        fail(sent, 'one PONG and nothing more', `also ${showFrame(extra.value)}`)
      if (extra.end === 'closed') fail(sent, 'the connection kept open', 'it closed')
    },
  },
  {
    id: '3.3',
    title: 'an unknown type with an empty payload, then DATA',
    section: PROFILE,
    expect: 'keeps the connection and echoes the DATA',
    run: async (t) => {
      const c = await BinaryClient.open(t)
      const bytes = Buffer.concat([binFrame(0xfffe), binFrame(DATA, Buffer.from('after'), 2)])
      await c.send(bytes)
      await c.expectFrame(showBytes(bytes), { type: DATA, flags: 2, payload: Buffer.from('after') })
    },
  },
  {
    id: '3.4',
    title: 'a PONG frame sent to the server',
    section: PROFILE,
    expect: 'no answer to it (a pong is not a ping); the connection kept',
    run: async (t) => {
      const c = await BinaryClient.open(t)
      const bytes = Buffer.concat([binFrame(PONG, Buffer.from('pong')), binFrame(HEARTBEAT)])
      await c.send(bytes)
      await c.expectFrame(showBytes(bytes), PONG_FRAME)
      const extra = await c.next(showBytes(bytes), Math.min(300, t.timeout))
      if ('value' in extra)
        fail(showBytes(bytes), 'exactly one PONG', `also ${showFrame(extra.value)}`)
    },
  },
  {
    id: '4.1',
    title: 'a peer that floods heartbeats and reads no PONG',
    section: ERRORS,
    expect: 'stops reading while its answers are not read: our send window fills within a bound',
    exclusive: true,
    run: async (t) => {
      const c = await BinaryClient.open(t)
      c.peer.socket.pause()
      const bound = 64 * 1024 * 1024
      const chunk = Buffer.concat(Array.from({ length: 8192 }, () => binFrame(HEARTBEAT)))
      const sent = await fillSendWindow(c, chunk, bound)
      if (sent >= bound)
        fail(
          `${bound} bytes of heartbeats, reading nothing`,
          'the server to stop reading',
          'it took every byte',
        )
      await stillServed(t, 'a connection stalled with unread PONGs')
    },
  },
  {
    id: '4.2',
    title: 'a connection that ends inside a header',
    section: ERRORS,
    expect: 'closes its side too, answering nothing',
    run: async (t) => {
      const c = await BinaryClient.open(t)
      await c.send(binFrame(HEARTBEAT).subarray(0, 5))
      c.peer.end()
      await c.expectClose('5 bytes of a heartbeat header, then end of input')
    },
  },
])
