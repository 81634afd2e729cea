import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { BinaryProtocolHandler, DATA, HEARTBEAT, PONG } from '@verb-tcp/binary-frames'
import { createSession } from '@verb-tcp/mux'
import { describe, expect, it } from 'vitest'
import { envName, OPTIONS } from '../src/args.ts'
import { MUX_UPGRADE } from '../src/binary-server.ts'
import { GOODBYE, GREETING } from '../src/echo.ts'
import { Client, defer } from './helpers.ts'
import { MessageClient } from './message-client.ts'
import { CLI, runServer, startServer } from './process.ts'

const built = existsSync(CLI)

async function scrape(port: number, path = '/metrics'): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`)
  return { status: res.status, body: await res.text() }
}

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `))
  return line === undefined ? undefined : Number(line.split(' ').at(-1))
}

// The root test command builds every package before running the tests; a bare `vitest run` in a
// fresh clone has no dist/ yet, and these tests are skipped rather than failed.
describe.skipIf(!built)('demo-server binary (dist/cli.js)', () => {
  it('logs one listening line with every bound port, echoes, and exits 0 on SIGTERM', async () => {
    const { run, ports } = await startServer()
    expect(Object.keys(ports).sort()).toEqual(['binary', 'echo', 'http', 'message'])
    for (const port of Object.values(ports)) expect(port).toBeGreaterThan(0)
    expect(run.lines.filter((l) => l.msg === 'listening')).toHaveLength(1)

    const client = await Client.connect(ports.echo)
    client.socket.write('hi\n')
    const echoed = Buffer.from(`${GREETING}Echo: hi\n`)
    expect(await client.bytes(echoed.length)).toEqual(echoed)

    run.child.kill('SIGTERM')
    expect(await client.untilClosed()).toEqual(Buffer.concat([echoed, Buffer.from(GOODBYE)]))
    const { code, signal, stderr } = await run.exited
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' })
    expect(run.lines.find((l) => l.msg === 'server closed')).toMatchObject({ closed: 1, forced: 0 })
  })

  it('takes every port from the environment', async () => {
    const env = Object.fromEntries(
      ['port', 'message-port', 'binary-port', 'http-port'].map((f) => [envName(f), '0']),
    )
    const run = runServer([], { env })
    const listening = await run.line((l) => l.msg === 'listening')
    for (const port of Object.values(listening.ports as object)) expect(port).toBeGreaterThan(0)
  })

  it('runs a chat between two clients: ping, broadcast, private, rooms and errors', async () => {
    const { ports } = await startServer()
    const ada = await MessageClient.join(ports.message)
    const bob = await MessageClient.join(ports.message)
    expect(ada.id).not.toBe(bob.id)

    ada.send({ type: 'ping', id: 7 })
    expect(await ada.next((m) => m.type === 'pong')).toMatchObject({
      type: 'pong',
      id: 7,
      timestamp: expect.any(Number),
    })

    ada.send({ type: 'broadcast', data: 'hello all' })
    expect(await bob.next((m) => m.type === 'broadcast')).toMatchObject({
      from: ada.id,
      data: 'hello all',
    })

    bob.send({ type: 'private', target: ada.id, data: { secret: 1 } })
    expect(await ada.next((m) => m.type === 'private')).toMatchObject({
      from: bob.id,
      data: { secret: 1 },
    })
    bob.send({ type: 'private', target: 'nobody', data: 1, id: 'p1' })
    expect(await bob.next((m) => m.type === 'error')).toMatchObject({
      code: 'ERR_UNKNOWN_TARGET',
      id: 'p1',
    })

    bob.send({ type: 'join_room', room: 'lobby' })
    await bob.next((m) => m.type === 'joined' && m.room === 'lobby')
    ada.send({ type: 'join_room', room: 'lobby' })
    await ada.next((m) => m.type === 'joined')
    expect(await bob.next((m) => m.type === 'user_joined')).toMatchObject({
      room: 'lobby',
      connectionId: ada.id,
    })
    ada.send({ type: 'room_message', room: 'lobby', data: 'hi room' })
    expect(await bob.next((m) => m.type === 'room_message')).toMatchObject({
      room: 'lobby',
      from: ada.id,
      data: 'hi room',
    })
    ada.send({ type: 'leave_room', room: 'lobby' })
    expect(await bob.next((m) => m.type === 'user_left')).toMatchObject({
      room: 'lobby',
      connectionId: ada.id,
    })
    ada.send({ type: 'room_message', room: 'lobby', data: 'gone' })
    expect(await ada.next((m) => m.type === 'error')).toMatchObject({ code: 'ERR_NOT_IN_ROOM' })

    bob.send({ type: 'dance' })
    expect(
      await bob.next((m) => m.type === 'error' && m.code === 'ERR_UNKNOWN_TYPE'),
    ).toMatchObject({
      message: 'Unknown message type: dance',
    })
    // Nobody received their own broadcast or room message.
    expect(ada.received.filter((m) => m.type === 'broadcast' || m.type === 'room_message')).toEqual(
      [],
    )

    // Bytes that are not json-frames: a coded error, then the server closes that connection only.
    bob.socket.write('GET / HTTP/1.1\r\n\r\n')
    expect(await bob.next((m) => m.type === 'error' && m.code === 'ERR_BAD_LENGTH')).toBeDefined()
    await bob.untilClosed()
    ada.send({ type: 'ping' })
    await ada.next((m) => m.type === 'pong' && m.id === undefined)
  })

  it('answers heartbeats and echoes DATA on the binary port, and serves mux streams after the MUX frame', async () => {
    const { ports } = await startServer()
    const socket = connect(ports.binary, '127.0.0.1')
    defer(() => socket.destroy())
    const frames = new BinaryProtocolHandler(socket)
    const pong = new Promise<Buffer>((resolve) => frames.on(PONG, (f) => resolve(f.payload)))
    const data = new Promise<Buffer>((resolve) => frames.on(DATA, (f) => resolve(f.payload)))
    frames.sendBinaryMessage(HEARTBEAT, Buffer.alloc(0))
    frames.sendBinaryMessage(DATA, Buffer.from('héllo'))
    expect(String(await pong)).toBe('pong')
    expect(String(await data)).toBe('héllo')

    const raw = connect(ports.binary, '127.0.0.1')
    defer(() => raw.destroy())
    raw.write(MUX_UPGRADE)
    await once(raw, 'readable')
    // The answer is the same 8 bytes; what follows is the mux session's (left in the socket).
    let answer: Buffer | null = raw.read(8)
    while (answer === null) {
      await once(raw, 'readable')
      answer = raw.read(8)
    }
    expect(answer).toEqual(MUX_UPGRADE)
    const session = createSession(raw, { role: 'dialler' })
    const streams = [1, 2, 3].map((n) => {
      const stream = session.open('echo')
      stream.end(`stream ${n}`)
      return stream
    })
    const replies = await Promise.all(
      streams.map(async (stream) => {
        const chunks: Buffer[] = []
        for await (const chunk of stream) chunks.push(chunk as Buffer)
        return Buffer.concat(chunks).toString()
      }),
    )
    expect(replies).toEqual(['stream 1', 'stream 2', 'stream 3'])
  })

  it('a mux stream opened with 256 KiB written at once is accepted, not refused for the bytes that carry it', async () => {
    const { ports } = await startServer()
    const payload = Buffer.alloc(256 * 1024, 7)
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = connect(ports.binary, '127.0.0.1')
      defer(() => raw.destroy())
      raw.write(MUX_UPGRADE)
      // The session's bytes may follow the upgrade at once; the server's 8-byte answer is
      // skipped before the session reads.
      let answer: Buffer | null = null
      while (answer === null) {
        await once(raw, 'readable')
        answer = raw.read(8)
      }
      const session = createSession(raw, { role: 'dialler' })
      const stream = session.open('echo')
      stream.end(payload)
      const chunks: Buffer[] = []
      for await (const chunk of stream) chunks.push(chunk as Buffer)
      expect(Buffer.concat(chunks).equals(payload)).toBe(true)
      session.destroy()
    }
  })

  it('reports what happened on /metrics and is healthy on /healthz', async () => {
    const { ports } = await startServer()
    const ada = await MessageClient.join(ports.message)
    for (let i = 0; i < 3; i++) ada.send({ type: 'ping', id: i })
    ada.send({ type: 'nonsense' })
    await ada.next((m) => m.type === 'error')
    await ada.next((m) => m.type === 'pong' && m.id === 2)
    ada.send({ type: 'join_room', room: 'r' })
    await ada.next((m) => m.type === 'joined')

    const health = await scrape(ports.http, '/healthz')
    expect(health.status).toBe(200)
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' })
    const { status, body } = await scrape(ports.http)
    expect(status).toBe(200)
    expect(sample(body, 'verb_tcp_messages_received_total', 'port="message",type="ping"')).toBe(3)
    expect(sample(body, 'verb_tcp_messages_sent_total', 'port="message",type="pong"')).toBe(3)
    expect(sample(body, 'verb_tcp_errors_total', 'port="message",code="ERR_UNKNOWN_TYPE"')).toBe(1)
    expect(sample(body, 'verb_tcp_connections', 'port="message"')).toBe(1)
    expect(sample(body, 'verb_tcp_connections_total', 'port="message",outcome="accepted"')).toBe(1)
    expect(sample(body, 'verb_tcp_rooms')).toBe(1)
    expect(sample(body, 'verb_tcp_room_members')).toBe(1)
    expect(sample(body, 'verb_tcp_bytes_received_total', 'port="message"')).toBeGreaterThan(0)
    expect(body).toContain('nodejs_eventloop_lag_seconds')
    expect((await scrape(ports.http, '/nope')).status).toBe(404)
  })

  it('exports the throttler: refusals by reason, tracked addresses and open connections', async () => {
    const { ports } = await startServer(['--max-per-ip', '1'])
    const ada = await MessageClient.join(ports.message)
    const second = await MessageClient.connect(ports.message)
    expect(await second.next((m) => m.type === 'error')).toMatchObject({
      code: 'ERR_TOO_MANY_CONNECTIONS',
    })
    let { body } = await scrape(ports.http)
    expect(sample(body, 'verb_tcp_throttler_refusals_total', 'reason="concurrency"')).toBe(1)
    expect(sample(body, 'verb_tcp_throttler_refusals_total', 'reason="rate"')).toBe(0)
    expect(sample(body, 'verb_tcp_throttler_tracked_addresses')).toBe(1)
    // The scrape itself is HTTP, outside the throttler: only Ada counts.
    expect(sample(body, 'verb_tcp_throttler_open_connections')).toBe(1)
    expect(sample(body, 'verb_tcp_pool_connections', 'port="message"')).toBe(1)
    ada.socket.destroy()
    await ada.untilClosed()
    for (let i = 0; i < 100; i++) {
      ;({ body } = await scrape(ports.http))
      if (sample(body, 'verb_tcp_throttler_open_connections') === 0) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(sample(body, 'verb_tcp_throttler_open_connections')).toBe(0)
    expect(sample(body, 'verb_tcp_pool_connections', 'port="message"')).toBe(0)
  })

  it('counts every message it sends, by type, as its clients receive them', async () => {
    const { ports } = await startServer()
    const ada = await MessageClient.join(ports.message)
    const bob = await MessageClient.join(ports.message)
    bob.send({ type: 'join_room', room: 'r' })
    await bob.next((m) => m.type === 'joined')
    ada.send({ type: 'join_room', room: 'r' })
    await ada.next((m) => m.type === 'joined')
    await bob.next((m) => m.type === 'user_joined')
    ada.send({ type: 'room_message', room: 'r', data: 1 })
    await bob.next((m) => m.type === 'room_message')
    ada.send({ type: 'room_message', room: 'elsewhere', data: 2 }) // not a member: refused
    await ada.next((m) => m.type === 'error')
    ada.send({ type: 'leave_room', room: 'r' })
    await ada.next((m) => m.type === 'left')
    await bob.next((m) => m.type === 'user_left')
    ada.send({ type: 'broadcast', data: 3 })
    await bob.next((m) => m.type === 'broadcast')
    bob.send({ type: 'private', target: ada.id, data: 4 })
    await ada.next((m) => m.type === 'private')
    ada.send({ type: 'ping', id: 1 })
    await ada.next((m) => m.type === 'pong')

    const received = new Map<string, number>()
    for (const m of [...ada.received, ...bob.received])
      received.set(m.type, (received.get(m.type) ?? 0) + 1)
    expect([...received.keys()].sort()).toEqual(
      [
        'broadcast',
        'error',
        'joined',
        'left',
        'pong',
        'private',
        'room_message',
        'user_joined',
        'user_left',
        'welcome',
      ].sort(),
    )
    const { body } = await scrape(ports.http)
    for (const [type, n] of received) {
      expect({
        type,
        sent: sample(body, 'verb_tcp_messages_sent_total', `port="message",type="${type}"`),
      }).toEqual({ type, sent: n })
    }
  })

  it('refuses a connection over --max-connections with a notice in the port’s own codec', async () => {
    const { ports } = await startServer(['--max-connections', '1'])
    await MessageClient.join(ports.message)
    const second = await MessageClient.connect(ports.message)
    expect(await second.next((m) => m.type === 'error')).toMatchObject({ code: 'ERR_SERVER_FULL' })
    await second.untilClosed()
    expect(second.received.some((m) => m.type === 'welcome')).toBe(false)
  })

  it('on SIGTERM tells every client, waits for them to leave, and exits 0', async () => {
    const { run, ports } = await startServer()
    const clients = await Promise.all(
      Array.from({ length: 5 }, () => MessageClient.join(ports.message)),
    )
    const echo = await Client.connect(ports.echo)
    await echo.bytes(GREETING.length)
    const binary = connect(ports.binary, '127.0.0.1')
    defer(() => binary.destroy())
    await once(binary, 'connect')

    run.child.kill('SIGTERM')
    for (const client of clients) {
      expect(await client.next((m) => m.type === 'server_shutdown')).toMatchObject({
        gracePeriod: 30000,
      })
      await client.untilClosed()
    }
    expect(String(await echo.untilClosed())).toBe(GREETING + GOODBYE)
    const { code } = await run.exited
    expect(code).toBe(0)
    expect(run.lines.find((l) => l.msg === 'shutting down')).toMatchObject({
      signal: 'SIGTERM',
      connections: 7,
    })
    expect(run.lines.find((l) => l.msg === 'server closed')).toMatchObject({ closed: 7, forced: 0 })
  })

  it('cuts off clients still there after --grace-period, and a second signal cuts them off at once', async () => {
    for (const how of ['grace period', 'second signal'] as const) {
      const { run, ports } = await startServer([
        '--grace-period',
        how === 'grace period' ? '300' : '600000',
      ])
      // A half-open client does not close when the server says goodbye.
      const stubborn = await Client.connect(ports.echo, { allowHalfOpen: true })
      await stubborn.bytes(GREETING.length)
      run.child.kill('SIGTERM')
      await stubborn.bytes(GREETING.length + GOODBYE.length)
      if (how === 'second signal') {
        await run.line((l) => l.msg === 'shutting down')
        run.child.kill('SIGINT')
      }
      expect((await run.exited).code).toBe(0)
      expect(run.lines.find((l) => l.msg === 'server closed')).toMatchObject({
        closed: 0,
        forced: 1,
      })
    }
  })

  it('exits 2 on a bad flag or variable, with a message', async () => {
    for (const [args, env, message] of [
      [['--port', 'abc'], {}, '--port must be an integer from 0 to 65535, got "abc"'],
      [['--prot', '8080'], {}, "Unknown option '--prot'"],
      [[], { VERB_TCP_GRACE_PERIOD: '-1' }, 'VERB_TCP_GRACE_PERIOD must be an integer'],
    ] as const) {
      const { code, stderr } = await runServer([...args], { env: { ...env } }).exited
      expect(code).toBe(2)
      expect(stderr).toContain(message)
    }
  })

  it('prints the usage with every flag and variable, and the version', async () => {
    const help = await runServer(['--help']).exited
    expect(help.code).toBe(0)
    for (const option of OPTIONS) {
      expect(help.stdout).toContain(`--${option.flag}`)
      expect(help.stdout).toContain(envName(option.flag))
    }
    const version = await runServer(['--version']).exited
    expect(version.code).toBe(0)
    expect(version.stdout).toMatch(/^demo-server \d+\.\d+\.\d+/)
  })

  it('exits 1 when a port is taken: one fatal log line, one sentence on stderr', async () => {
    const blocker = createServer()
    defer(() => new Promise((resolve) => blocker.close(resolve)))
    blocker.listen(0, '127.0.0.1')
    await once(blocker, 'listening')
    const { port } = blocker.address() as { port: number }

    const run = runServer([
      '--port',
      '0',
      '--message-port',
      String(port),
      '--binary-port',
      '0',
      '--http-port',
      '0',
    ])
    const { code, stderr } = await run.exited
    expect(code).toBe(1)
    const fatal = run.lines.filter((l) => l.level >= 50)
    expect(fatal).toHaveLength(1)
    expect(fatal[0]).toMatchObject({ msg: 'could not listen', err: { code: 'EADDRINUSE' } })
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toContain(
      `could not listen: the message port 127.0.0.1:${port} is already in use`,
    )
    expect(stderr).toContain('--message-port')
  })
})
