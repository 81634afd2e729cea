import { showBytes, showValue } from '../describe.ts'
import { fail } from '../errors.ts'
import { frame, JsonClient, message } from '../json-wire.ts'
import { fillSendWindow, sleep } from '../peer.ts'
import type { Case, CaseContext } from '../types.ts'
import { cases } from './define.ts'

/**
 * json-frames, `<byte length>\n<json>`, as the message port of the verb docs' server speaks it:
 * `ping` answered with `pong` (the ping's `id` echoed), coded `error` replies, framing errors
 * answered (optionally) and closed.
 */

const WIRE = 'json-frames README, Wire format'
const ERRORS = 'json-frames README, Errors'
const PROFILE = 'demo-server README, The message port'

/** A fatal framing error: the connection must close; other connections are still served. */
async function closes(
  t: CaseContext,
  bytes: Uint8Array,
  sent: string,
  code: string,
): Promise<void> {
  const c = await JsonClient.open(t)
  await c.send(bytes)
  await c.expectClose(sent, code)
  await stillServed(t, sent)
}

/** A fresh connection still gets its pong. */
async function stillServed(t: CaseContext, after: string): Promise<void> {
  const other = await JsonClient.open(t)
  await other.ping(undefined, undefined).catch((error: Error) => {
    fail(after, 'other connections still served (ping answered)', error.message)
  })
}

/** A recoverable error: an `error` with `code`, then the same connection still answers a ping. */
async function recovers(
  t: CaseContext,
  bytes: Uint8Array,
  sent: string,
  code: string,
): Promise<void> {
  const c = await JsonClient.open(t)
  await c.send(bytes)
  await c.expectError(code, sent)
  await c.ping(`after-${code}`)
}

const badLength = (id: string, header: string, title: string): Case => {
  const bytes = Buffer.concat([Buffer.from(header, 'utf8'), Buffer.from('{"type":"ping"}')])
  return {
    id,
    title: `length line ${title}: ${showBytes(Buffer.from(header, 'utf8'))}`,
    section: WIRE,
    expect: 'closes the connection (after an ERR_BAD_LENGTH error, if any); others still served',
    run: (t) => closes(t, bytes, `${showBytes(bytes)}`, 'ERR_BAD_LENGTH'),
  }
}

const invalidPayload = (
  id: string,
  title: string,
  payload: Uint8Array,
  code: string,
  section = ERRORS,
): Case => ({
  id,
  title,
  section,
  expect: `answers an error with code ${code} and keeps the connection (a ping after it is answered)`,
  run: (t) => recovers(t, frame(payload), showBytes(frame(payload)), code),
})

export const jsonFramesCases: readonly Case[] = cases('json-frames', [
  // 1. Framing
  {
    id: '1.1',
    title: 'one ping frame',
    section: WIRE,
    expect: 'answers {"type":"pong"} with the ping\'s id',
    run: async (t) => {
      const c = await JsonClient.open(t)
      await c.ping('1.1')
    },
  },
  {
    id: '1.2',
    title: 'a frame split at every byte (one byte per read)',
    section: WIRE,
    expect: 'reassembles the frame and answers the pong',
    run: async (t) => {
      const c = await JsonClient.open(t)
      const bytes = message({ type: 'ping', id: 'split-every-byte' })
      await c.peer.writeSplit(bytes, [...bytes.keys()].slice(1))
      await c.ping('split-every-byte', `${showBytes(bytes)} one byte at a time`)
    },
  },
  {
    id: '1.3',
    title: 'multibyte UTF-8 where character and byte counts differ ("é€𝄞")',
    section: WIRE,
    expect: 'reads the length as bytes and answers with a byte-counted frame echoing the id',
    run: async (t) => {
      const c = await JsonClient.open(t)
      await c.ping('é€𝄞 ✓')
    },
  },
  {
    id: '1.4',
    title: 'a multibyte character cut between two reads',
    section: WIRE,
    expect: 'decodes the payload once it is whole (no U+FFFD) and echoes the id exactly',
    run: async (t) => {
      const c = await JsonClient.open(t)
      const bytes = message({ type: 'ping', id: '𝄞𝄞' })
      const at = bytes.indexOf(0xf0) + 2 // inside the first four-byte character
      await c.peer.writeSplit(bytes, [at], 20)
      await c.ping('𝄞𝄞', `${showBytes(bytes)} cut at byte ${at}`)
    },
  },
  {
    id: '1.5',
    title: '100 pipelined frames in one write',
    section: WIRE,
    expect: 'answers all 100 pongs, in order',
    run: async (t) => {
      const c = await JsonClient.open(t)
      const n = 100
      await c.send(
        Buffer.concat(Array.from({ length: n }, (_, i) => message({ type: 'ping', id: i }))),
      )
      const sent = `${n} pings in one write`
      for (let i = 0; i < n; i++) {
        const r = await c.next((m) => m.type === 'pong', sent)
        if ('end' in r)
          fail(sent, `${n} pongs`, `${i} pongs, then ${r.end === 'closed' ? 'a close' : 'nothing'}`)
        if (r.value.id !== i)
          fail(sent, `pong ${i} next (in order)`, `pong ${showValue(r.value.id)}`)
      }
    },
  },
  {
    id: '1.6',
    title: 'a payload with a line feed inside a string and whitespace around the object',
    section: WIRE,
    expect: 'frames by the length, not by lines: answers the pong',
    run: async (t) => {
      const c = await JsonClient.open(t)
      const bytes = frame('\n { "type" : "ping", "id" : "line\\nfeed\\n" }\n')
      await c.send(bytes)
      await c.ping('line\nfeed\n', showBytes(bytes))
    },
  },
  {
    id: '1.7',
    title: 'frames cut right after the length line and inside the next header',
    section: WIRE,
    expect: 'answers both pongs',
    run: async (t) => {
      const c = await JsonClient.open(t)
      const a = message({ type: 'ping', id: 'a' })
      const b = message({ type: 'ping', id: 'b' })
      const both = Buffer.concat([a, b])
      await c.peer.writeSplit(both, [a.indexOf(0x0a) + 1, a.length + 1], 20)
      await c.ping('a', showBytes(both))
      await c.ping('b', showBytes(both))
    },
  },
  // 2. Length lines
  {
    id: '2.1',
    title: 'a zero-length frame ("0\\n")',
    section: WIRE,
    expect: 'a valid empty frame whose payload is not JSON: ERR_INVALID_JSON, the connection kept',
    run: (t) => recovers(t, Buffer.from('0\n'), '"0\\n"', 'ERR_INVALID_JSON'),
  },
  {
    id: '2.2',
    title: 'a frame of exactly the maximum length (--max-frame-bytes, whitespace-padded ping)',
    section: WIRE,
    expect: 'accepts it and answers the pong',
    exclusive: true,
    run: async (t) => {
      const c = await JsonClient.open(t)
      const body = Buffer.from('{"type":"ping","id":"max"}')
      const payload = Buffer.alloc(t.maxFrameBytes, 0x20)
      body.copy(payload)
      await c.send(frame(payload))
      await c.ping('max', `a ${t.maxFrameBytes}-byte frame`)
    },
  },
  {
    id: '2.3',
    title: 'a length line one byte over the limit, no payload sent',
    section: WIRE,
    expect:
      'closes at the header, without waiting for the payload (ERR_FRAME_TOO_LARGE first, if any)',
    run: (t) =>
      closes(
        t,
        Buffer.from(`${t.maxFrameBytes + 1}\n`),
        `"${t.maxFrameBytes + 1}\\n"`,
        'ERR_FRAME_TOO_LARGE',
      ),
  },
  {
    id: '2.4',
    title: 'a 20-digit length line',
    section: WIRE,
    expect: 'closes (ERR_FRAME_TOO_LARGE or ERR_BAD_LENGTH first, if any)',
    run: async (t) => {
      const c = await JsonClient.open(t)
      const sent = '"99999999999999999999\\n"'
      await c.send('99999999999999999999\n')
      await c.expectClose(sent, undefined)
      await stillServed(t, sent)
    },
  },
  badLength('2.5', '012\n', 'with a leading zero'),
  badLength('2.6', '+15\n', 'with a plus sign'),
  badLength('2.7', '-1\n', 'that is negative'),
  badLength('2.8', ' 15\n', 'padded with a leading space'),
  badLength('2.9', '15 \n', 'padded with a trailing space'),
  badLength('2.10', '15\r\n', 'ending in CR LF'),
  badLength('2.11', '1e3\n', 'in exponent notation'),
  badLength('2.12', '0xf\n', 'in hexadecimal'),
  badLength('2.13', '15.0\n', 'with a decimal point'),
  badLength('2.14', '\n', 'with no digits'),
  badLength('2.15', '１５\n', 'in full-width digits'),
  badLength('2.16', '١٥\n', 'in Arabic-Indic digits'),
  badLength('2.17', '0000000000000000000000000015\n', 'overlong, zero-padded'),
  badLength('2.18', 'GET / HTTP/1.1\r\n\r\n', 'that is an HTTP request'),
  {
    id: '2.19',
    title: 'a length line that never ends (a digit every 5 ms)',
    section: WIRE,
    expect: 'closes once the digits already exceed the limit, not buffering forever',
    run: async (t) => {
      const c = await JsonClient.open(t)
      const max = String(t.maxFrameBytes).length + 2
      const sent = `"1" every 5 ms (${max + 8} digits at most)`
      for (let i = 0; i < max + 8 && !c.peer.ended; i++) {
        await c.send('1')
        await sleep(5)
      }
      await c.expectClose(sent, undefined)
    },
  },
  {
    id: '2.20',
    title: 'a stray line feed after a complete frame',
    section: WIRE,
    expect: 'answers the frame, then reads the LF as a bad header and closes',
    run: async (t) => {
      const c = await JsonClient.open(t)
      const bytes = Buffer.concat([message({ type: 'ping', id: 'stray' }), Buffer.from('\n')])
      await c.send(bytes)
      await c.ping('stray', showBytes(bytes))
      await c.expectClose(showBytes(bytes), 'ERR_BAD_LENGTH')
    },
  },
  // 3. Payloads
  invalidPayload('3.1', 'invalid JSON ("{oops")', Buffer.from('{oops'), 'ERR_INVALID_JSON'),
  invalidPayload(
    '3.2',
    'JSON with trailing garbage ("{}x")',
    Buffer.from('{}x'),
    'ERR_INVALID_JSON',
  ),
  invalidPayload(
    '3.3',
    'a UTF-8 byte order mark before the JSON',
    Buffer.from('\ufeff{"type":"ping"}'),
    'ERR_INVALID_JSON',
  ),
  invalidPayload(
    '3.4',
    'a payload with the byte 0xFF (not UTF-8)',
    Buffer.from([0x22, 0xff, 0x22]),
    'ERR_INVALID_UTF8',
  ),
  invalidPayload(
    '3.5',
    'an overlong UTF-8 form (C0 AF for "/")',
    Buffer.from([0x22, 0xc0, 0xaf, 0x22]),
    'ERR_INVALID_UTF8',
  ),
  invalidPayload(
    '3.6',
    'an encoded surrogate (ED A0 80)',
    Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]),
    'ERR_INVALID_UTF8',
  ),
  invalidPayload(
    '3.7',
    'a UTF-8 sequence cut short at the end of the payload',
    Buffer.from([0x22, 0x22, 0xe2, 0x82]),
    'ERR_INVALID_UTF8',
  ),
  invalidPayload('3.8', 'non-object JSON: 42', Buffer.from('42'), 'ERR_BAD_REQUEST', PROFILE),
  invalidPayload('3.9', 'non-object JSON: null', Buffer.from('null'), 'ERR_BAD_REQUEST', PROFILE),
  invalidPayload(
    '3.10',
    'non-object JSON: an array',
    Buffer.from('[{"type":"ping"}]'),
    'ERR_BAD_REQUEST',
    PROFILE,
  ),
  invalidPayload(
    '3.11',
    'non-object JSON: a string',
    Buffer.from('"ping"'),
    'ERR_BAD_REQUEST',
    PROFILE,
  ),
  invalidPayload(
    '3.12',
    'an object without a string "type"',
    Buffer.from('{"type":7}'),
    'ERR_BAD_REQUEST',
    PROFILE,
  ),
  {
    id: '3.13',
    title: 'an unknown message type, with an id',
    section: PROFILE,
    expect: "answers an error ERR_UNKNOWN_TYPE carrying the request's id; the connection kept",
    run: async (t) => {
      const c = await JsonClient.open(t)
      const bytes = message({ type: 'no_such_type', id: 'u1' })
      await c.send(bytes)
      const e = await c.expectError('ERR_UNKNOWN_TYPE', showBytes(bytes))
      if (e.id !== 'u1') fail(showBytes(bytes), 'the error to carry "id":"u1"', showValue(e))
      await c.ping('after-unknown')
    },
  },
  // 4. Resources
  {
    id: '4.1',
    title: 'a peer that sends pings and stops reading the pongs',
    section: ERRORS,
    expect: 'stops reading while its replies are not read: our send window fills within a bound',
    exclusive: true,
    run: async (t) => {
      const c = await JsonClient.open(t)
      c.peer.socket.pause()
      const bound = 64 * 1024 * 1024
      const sent = await fillSendWindow(
        c,
        message({ type: 'ping', id: 'x'.repeat(16 * 1024) }),
        bound,
      )
      if (sent >= bound)
        fail(
          `${bound} bytes of 16 KiB pings, reading nothing`,
          'the server to stop reading (our writes to stall)',
          'it took every byte',
        )
      c.peer.destroy()
    },
  },
  {
    id: '4.2',
    title: 'a new connection while another one is stalled with unread replies',
    section: ERRORS,
    expect: 'serves the new connection',
    exclusive: true,
    run: async (t) => {
      const c = await JsonClient.open(t)
      c.peer.socket.pause()
      await fillSendWindow(
        c,
        message({ type: 'ping', id: 'y'.repeat(16 * 1024) }),
        64 * 1024 * 1024,
      )
      await stillServed(t, 'a connection stalled with unread pongs')
      c.peer.destroy()
    },
  },
  {
    id: '4.3',
    title: 'a connection that ends inside a frame',
    section: ERRORS,
    expect: 'closes its side too (a truncated frame is an error, not a message)',
    run: async (t) => {
      const c = await JsonClient.open(t)
      await c.send('30\n{"type":"ping"')
      c.peer.end()
      await c.expectClose('"30\\n{\\"type\\":\\"ping\\"" then end of input', 'ERR_TRUNCATED_FRAME')
      if (c.drain('').some((m) => (m as { type?: string }).type === 'pong'))
        fail('a truncated ping', 'no pong', 'a pong')
    },
  },
])
