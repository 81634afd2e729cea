import { BinaryFrameDecoder, DATA, encodeFrame } from '@verb-tcp/binary-frames'
import { until } from '@verb-tcp/core/testing'
import { afterEach, expect, it } from 'vitest'
import { InProcessAdapter, TCPRoomManager } from '../src/index.ts'
import { closeEverything, manager, peers } from './helpers.ts'

afterEach(closeEverything)

it('validates options with Node-style codes', () => {
  const cases: Array<[unknown, string]> = [
    [{ maxRoomz: 1 }, 'ERR_INVALID_ARG_VALUE'],
    ['fast', 'ERR_INVALID_ARG_TYPE'],
    [{ encoder: 'json' }, 'ERR_INVALID_ARG_TYPE'],
    [{ authorize: true }, 'ERR_INVALID_ARG_TYPE'],
    [{ maxRoomNameBytes: 0 }, 'ERR_OUT_OF_RANGE'],
    [{ maxRoomNameBytes: Number.POSITIVE_INFINITY }, 'ERR_OUT_OF_RANGE'],
    [{ maxRoomsPerClient: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ maxMembersPerRoom: 1.5 }, 'ERR_OUT_OF_RANGE'],
    [{ maxBufferedBytes: '1mb' }, 'ERR_INVALID_ARG_TYPE'],
    [{ maxMessageBytes: 0 }, 'ERR_OUT_OF_RANGE'],
    [{ slowMember: 'kick' }, 'ERR_INVALID_ARG_VALUE'],
    [{ nonMemberBroadcast: 'deny' }, 'ERR_INVALID_ARG_VALUE'],
    [{ replyErrors: 1 }, 'ERR_INVALID_ARG_TYPE'],
    [{ membersTimeoutMs: -5 }, 'ERR_OUT_OF_RANGE'],
    [{ reservedPrefix: 7 }, 'ERR_INVALID_ARG_TYPE'],
    [{ adapter: {} }, 'ERR_INVALID_ARG_TYPE'],
  ]
  for (const [options, code] of cases) {
    expect(() => new TCPRoomManager(options as never), JSON.stringify(options)).toThrow(
      expect.objectContaining({ code }),
    )
  }
  expect(() => new TCPRoomManager({ maxRoomsPerClient: Number.POSITIVE_INFINITY })).not.toThrow()
})

it('InProcessAdapter rejects unknown option keys', () => {
  expect(() => new InProcessAdapter({ node: 'a' } as never)).toThrow(
    expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }),
  )
})

it('an adapter can be attached to one manager only', () => {
  const adapter = new InProcessAdapter()
  manager({ adapter })
  expect(() => new TCPRoomManager({ adapter })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
  )
})

it('binary-frames works as the encoder, and the encoder runs once per broadcast', async () => {
  let encodes = 0
  const rooms = manager({
    encoder: (message) => {
      encodes++
      return encodeFrame(DATA, Buffer.from(JSON.stringify(message)))
    },
  })
  const list = await peers(4)
  for (const [i, peer] of list.entries()) rooms.addClient(`c${i}`, peer.server)
  for (let i = 0; i < 4; i++) rooms.joinRoom(`c${i}`, 'r')
  const frames: unknown[] = []
  const decoder = new BinaryFrameDecoder()
  list[1].socket.removeAllListeners('data')
  list[1].socket.on('data', (chunk: Buffer) =>
    decoder.push(chunk, {
      frame: (frame) => frames.push(JSON.parse(String(frame.payload))),
      error: (error) => frames.push(error),
    }),
  )
  const before = encodes
  expect(rooms.broadcastToRoom('r', { type: 'say', text: 'bin' }, 'c0')).toBe(3)
  expect(encodes - before).toBe(1)
  await until(() => frames.some((f) => (f as { type?: string }).type === 'say'))
  expect(frames.at(-1)).toEqual({ type: 'say', text: 'bin' })
})

it('the built CommonJS entry loads json-frames as its default encoder', async () => {
  const { createRequire } = await import('node:module')
  const require = createRequire(import.meta.url)
  const cjs = require('@verb-tcp/rooms') as typeof import('../src/index.ts')
  const rooms = new cjs.TCPRoomManager()
  expect(rooms.stats.rooms).toBe(0)
  await rooms.close()
})

it('notices: false sends no user_joined or user_left', async () => {
  const rooms = manager({ notices: false })
  const list = await peers(2)
  for (const [i, peer] of list.entries()) rooms.addClient(`c${i}`, peer.server)
  rooms.joinRoom('c0', 'r')
  rooms.joinRoom('c1', 'r')
  rooms.leaveRoom('c1', 'r')
  rooms.broadcastToRoom('r', { type: 'say' })
  await until(() => list[0]?.messages.length === 1)
  expect(list[0]?.messages).toEqual([{ type: 'say' }])
  expect(() => manager({ notices: 'no' as never })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  )
})
