// The message port's protocol as the README states it, against the built server (dist/cli.js):
// room names, error codes and ids, the order of replies, requests without data, the log lines
// of protocol errors, and /healthz during a shutdown.
import { existsSync } from 'node:fs'
import { encodeMessage } from '@verb-tcp/json-frames'
import { describe, expect, it } from 'vitest'
import { MAX_ROOM_NAME_BYTES } from '../src/message-errors.ts'
import { Client } from './helpers.ts'
import { MessageClient, type Msg } from './message-client.ts'
import { CLI, startServer } from './process.ts'

const built = existsSync(CLI)

/** The replies of a connection after its welcome, as `type code id` strings. */
const replies = (client: MessageClient) =>
  client.received
    .filter((m) => m.type !== 'welcome')
    .map((m) => [m.type, m.code, m.id].filter((x) => x !== undefined).join(' '))

/** Several requests in one write, as a client that does not wait for replies sends them. */
const burst = (messages: Msg[]) => Buffer.concat(messages.map((m) => encodeMessage(m)))

describe.skipIf(!built)('the message port, as its README states it (dist/cli.js)', () => {
  it(`takes room names of 1 to ${MAX_ROOM_NAME_BYTES} bytes of UTF-8, and answers ERR_ROOM_NAME with the id over that`, async () => {
    const { ports } = await startServer()
    const ada = await MessageClient.join(ports.message)
    const longest = 'é'.repeat(MAX_ROOM_NAME_BYTES / 2) // 2 bytes each: 64 characters
    ada.send({ type: 'join_room', room: longest, id: 1 })
    expect(await ada.next((m) => m.id === 1)).toEqual({ type: 'joined', room: longest, id: 1 })
    ada.send({ type: 'join_room', room: `${longest}a`, id: 2 })
    expect(await ada.next((m) => m.id === 2)).toMatchObject({
      type: 'error',
      code: 'ERR_ROOM_NAME',
      message: `a room name can have at most ${MAX_ROOM_NAME_BYTES} bytes, got at least ${MAX_ROOM_NAME_BYTES + 1}`,
    })
    ada.send({ type: 'join_room', room: '', id: 3 })
    expect(await ada.next((m) => m.id === 3)).toMatchObject({ code: 'ERR_ROOM_NAME' })
    ada.send({ type: 'join_room', room: '$all', id: 4 })
    expect(await ada.next((m) => m.id === 4)).toMatchObject({ code: 'ERR_ROOM_RESERVED' })
  })

  it('answers a join without a string room with ERR_BAD_REQUEST, naming no "undefined" room', async () => {
    const { ports } = await startServer()
    const ada = await MessageClient.join(ports.message)
    ada.send({ type: 'join_room', id: 'j1' })
    ada.send({ type: 'join_room', room: 7, id: 'j2' })
    ada.send({ type: 'leave_room', id: 'l1' })
    ada.send({ type: 'room_message', data: 1, id: 'r1' })
    for (const id of ['j1', 'j2', 'l1', 'r1']) {
      expect(await ada.next((m) => m.id === id)).toEqual({
        type: 'error',
        code: 'ERR_BAD_REQUEST',
        message: '"room" must be a string',
        id,
      })
    }
    expect(JSON.stringify(ada.received)).not.toContain('undefined')
  })

  it('gives every error reply the id of its request', async () => {
    const { ports } = await startServer()
    const ada = await MessageClient.join(ports.message)
    const requests: Msg[] = [
      { type: 'join_room', room: 'x'.repeat(200), id: 1 }, // ERR_ROOM_NAME
      { type: 'room_message', room: 'elsewhere', data: 'hi', id: 2 }, // ERR_NOT_IN_ROOM
      { type: 'leave_room', room: 'elsewhere', id: 3 }, // ERR_NOT_IN_ROOM
      { type: 'private', target: 'nobody', data: 1, id: 4 }, // ERR_UNKNOWN_TARGET
      { type: 'dance', id: 5 }, // ERR_UNKNOWN_TYPE
      { type: 7, id: 6 }, // ERR_BAD_REQUEST
      { type: 'broadcast', id: 7 }, // ERR_BAD_REQUEST: no data
    ]
    for (const request of requests) ada.send(request)
    await ada.next((m) => m.id === 7)
    expect(replies(ada)).toEqual([
      'error ERR_ROOM_NAME 1',
      'error ERR_NOT_IN_ROOM 2',
      'error ERR_NOT_IN_ROOM 3',
      'error ERR_UNKNOWN_TARGET 4',
      'error ERR_UNKNOWN_TYPE 5',
      'error ERR_BAD_REQUEST 6',
      'error ERR_BAD_REQUEST 7',
    ])
  })

  it('answers requests in the order they came, joins and their refusals too', async () => {
    const { ports } = await startServer()
    const ada = await MessageClient.join(ports.message)
    ada.socket.write(
      burst([
        { type: 'join_room', room: '', id: 1 },
        { type: 'ping', id: 2 },
        { type: 'join_room', room: 'lobby', id: 3 },
        { type: 'room_message', room: 'nowhere', data: 1, id: 4 },
        { type: 'leave_room', room: 'lobby', id: 5 },
        { type: 'ping', id: 6 },
      ]),
    )
    await ada.next((m) => m.id === 6)
    expect(replies(ada)).toEqual([
      'error ERR_ROOM_NAME 1',
      'pong 2',
      'joined 3',
      'error ERR_NOT_IN_ROOM 4',
      'left 5',
      'pong 6',
    ])
  })

  it('answers the requests before a framing error in the same write, then the error, then closes', async () => {
    const { run, ports } = await startServer()
    const ada = await MessageClient.join(ports.message)
    // Enough pings that a turn's work budget runs out before the framing error is read.
    const pings = Array.from({ length: 3000 }, (_, i) => ({ type: 'ping', id: i }))
    ada.socket.write(
      Buffer.concat([
        burst([
          ...pings,
          { type: 'join_room', room: 'lobby', id: 'a' },
          { type: 'join_room', room: '', id: 'b' },
        ]),
        Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      ]),
    )
    await ada.untilClosed()
    expect(replies(ada)).toEqual([
      ...pings.map((p) => `pong ${p.id}`),
      'joined a',
      'error ERR_ROOM_NAME b',
      'error ERR_BAD_LENGTH',
    ])
    // Logged: the protocol error, and a disconnect that says it ended on one.
    const connectionId = ada.received[0]?.connectionId
    await run.line((l) => l.msg === 'client disconnected' && l.connectionId === connectionId)
    expect(
      run.lines.find((l) => l.msg === 'protocol error' && l.connectionId === connectionId),
    ).toMatchObject({ level: 30, code: 'ERR_BAD_LENGTH', recoverable: false })
    expect(
      run.lines.find((l) => l.msg === 'client disconnected' && l.connectionId === connectionId),
    ).toMatchObject({ hadError: true, error: 'ERR_BAD_LENGTH' })
  })

  it('answers bad JSON in its place, logs it, and keeps the connection', async () => {
    const { run, ports } = await startServer()
    const ada = await MessageClient.join(ports.message)
    const connectionId = ada.received[0]?.connectionId
    ada.socket.write(
      Buffer.concat([
        encodeMessage({ type: 'ping', id: 1 }),
        Buffer.from('5\n{nope'),
        encodeMessage({ type: 'ping', id: 2 }),
      ]),
    )
    await ada.next((m) => m.id === 2)
    expect(replies(ada)).toEqual(['pong 1', 'error ERR_INVALID_JSON', 'pong 2'])
    expect(
      await run.line((l) => l.msg === 'protocol error' && l.connectionId === connectionId),
    ).toMatchObject({ level: 30, code: 'ERR_INVALID_JSON', recoverable: true })
    ada.socket.end()
    expect(
      await run.line((l) => l.msg === 'client disconnected' && l.connectionId === connectionId),
    ).toMatchObject({ hadError: false })
  })

  it('refuses a broadcast, a private message or a room message without data, and delivers none', async () => {
    const { ports } = await startServer()
    const ada = await MessageClient.join(ports.message)
    const bob = await MessageClient.join(ports.message)
    for (const who of [ada, bob]) {
      who.send({ type: 'join_room', room: 'lobby', id: 'join' })
      await who.next((m) => m.id === 'join')
    }
    ada.send({ type: 'broadcast', id: 1 })
    ada.send({ type: 'private', target: bob.id, id: 2 })
    ada.send({ type: 'room_message', room: 'lobby', id: 3 })
    ada.send({ type: 'broadcast', data: null, id: 4 }) // null is data
    await bob.next((m) => m.type === 'broadcast')
    await ada.next((m) => m.id === 3)
    expect(replies(ada).filter((r) => r.startsWith('error'))).toEqual([
      'error ERR_BAD_REQUEST 1',
      'error ERR_BAD_REQUEST 2',
      'error ERR_BAD_REQUEST 3',
    ])
    expect(ada.received.find((m) => m.id === 1)?.message).toBe('a broadcast needs "data"')
    expect(
      bob.received.filter((m) => ['broadcast', 'private', 'room_message'].includes(m.type)),
    ).toEqual([expect.objectContaining({ type: 'broadcast', from: ada.id, data: null })])
  })

  it('answers /healthz with 503 shutting_down during the grace period', async () => {
    const { run, ports } = await startServer(['--grace-period', '60000'])
    // A client that does not close when told to keeps the server in its grace period.
    const stubborn = await Client.connect(ports.echo, { allowHalfOpen: true })
    await stubborn.bytes(1)
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${ports.http}/healthz`)
      return { status: res.status, body: (await res.json()) as Msg }
    }
    expect(await health()).toMatchObject({ status: 200, body: { status: 'ok' } })
    run.child.kill('SIGTERM')
    await run.line((l) => l.msg === 'shutting down')
    expect(await health()).toMatchObject({ status: 503, body: { status: 'shutting_down' } })
    // The metrics are still there to watch the clients leave.
    expect((await fetch(`http://127.0.0.1:${ports.http}/metrics`)).status).toBe(200)
    stubborn.socket.end()
    expect((await run.exited).code).toBe(0)
    expect(run.lines.find((l) => l.msg === 'server closed')).toMatchObject({ closed: 1, forced: 0 })
  })
})
