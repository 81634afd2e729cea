// Three server processes on one Redis, real TCP clients on each: broadcast, exclusion, notices,
// members across nodes, a node killed with SIGKILL, Redis stopped and restarted mid-run.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { Socket } from 'node:net'
import { MessageHandler } from '@verb-tcp/json-frames'
import { afterAll, expect, it } from 'vitest'
import { useRedis } from './redis-server.ts'

interface Message {
  type: string
  [key: string]: unknown
}

const children = new Set<ChildProcess>()
const sockets = new Set<Socket>()
// Registered first, so that its afterAll (stopping Redis) runs after the one below.
const redis = useRedis()

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await Promise.all(
    [...children].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }),
  )
})

/** Waits (bounded: about 15 s) for `predicate`, polling. */
async function waitFor(what: string, predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (predicate()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function startNode(name: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [new URL('./fixtures/node-server.mjs', import.meta.url).pathname],
    {
      env: { ...process.env, REDIS_URL: redis.url, PREFIX: 'e2e', NODE_NAME: name },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  children.add(child)
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  let stdout = ''
  const ready = new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      stdout += chunk
      const line = stdout.split('\n')[0]
      if (stdout.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port)
    })
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${stderr}`)))
  })
  return { child, port: await ready }
}

class Client {
  readonly inbox: Message[] = []
  readonly #messages: MessageHandler<Message>
  id = ''

  private constructor(readonly socket: Socket) {
    this.#messages = new MessageHandler<Message>(socket)
    this.#messages.on('message', (message) => this.inbox.push(message))
    this.#messages.on('error', () => {})
  }

  static async connect(port: number): Promise<Client> {
    const socket = new Socket()
    socket.on('error', () => {})
    sockets.add(socket)
    const client = new Client(socket)
    socket.connect(port, '127.0.0.1')
    await waitFor('welcome', () => client.inbox.some((m) => m.type === 'welcome'))
    client.id = String(client.inbox.find((m) => m.type === 'welcome')?.id)
    return client
  }

  send(message: Message): void {
    this.#messages.sendMessage(message)
  }

  of(type: string, filter: (m: Message) => boolean = () => true): Message[] {
    return this.inbox.filter((m) => m.type === type && filter(m))
  }

  async join(room: string): Promise<void> {
    this.send({ type: 'join', room })
    await waitFor(`${this.id} joined ${room}`, () => this.of('joined').length > 0)
    this.inbox.splice(0, this.inbox.length)
  }

  async members(room: string): Promise<Message> {
    const before = this.of('members').length
    this.send({ type: 'members', room })
    await waitFor('members', () => this.of('members').length > before)
    return this.of('members')[before] as Message
  }
}

it('three nodes on one Redis: broadcast, exclusion, notices, members, SIGKILL, Redis restart', async () => {
  const nodes = await Promise.all(['n1', 'n2', 'n3'].map(startNode))
  const [n1, n2, n3] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]]
  const a = await Client.connect(n1.port)
  const a2 = await Client.connect(n1.port)
  const b = await Client.connect(n2.port)
  const c = await Client.connect(n3.port)

  // Joins one after another: each earlier member hears of each later one exactly once.
  await a.join('room')
  await b.join('room')
  await waitFor('a hears b', () => a.of('user_joined').length === 1)
  await c.join('room')
  await a2.join('room')
  await waitFor(
    'notices',
    () =>
      a.of('user_joined').length === 3 &&
      b.of('user_joined').length === 2 &&
      c.of('user_joined').length === 1,
  )
  expect(a.of('user_joined').map((m) => m.connectionId)).toEqual([b.id, c.id, a2.id])
  expect(b.of('user_joined').map((m) => m.connectionId)).toEqual([c.id, a2.id])
  expect(c.of('user_joined').map((m) => m.connectionId)).toEqual([a2.id])

  // A broadcast from n2 reaches every other member once, wherever it is; never the sender.
  b.send({ type: 'broadcast', room: 'room', data: 'hello' })
  await waitFor('hello everywhere', () =>
    [a, a2, c].every((client) => client.of('message').length === 1),
  )
  for (const client of [a, a2, c]) {
    expect(client.of('message')).toEqual([expect.objectContaining({ from: b.id, data: 'hello' })])
  }

  // Members across the three nodes.
  expect(await c.members('room')).toMatchObject({
    members: [a.id, a2.id, b.id, c.id].sort(),
    complete: true,
  })
  // The members round trip passed through every node: nothing more is coming to the sender.
  expect(b.of('message')).toEqual([])

  // n3 dies without a goodbye: within its heartbeat TTL the others hear that c left, once.
  n3.child.kill('SIGKILL')
  await once(n3.child, 'exit')
  await waitFor('user_left for c', () =>
    [a, a2, b].every((client) => client.of('user_left').length === 1),
  )
  for (const client of [a, a2, b]) {
    expect(client.of('user_left').map((m) => m.connectionId)).toEqual([c.id])
  }
  expect(await a.members('room')).toMatchObject({
    members: [a.id, a2.id, b.id].sort(),
    complete: true,
  })

  // Redis goes away: local delivery on n1 goes on; what is sent across nodes meanwhile is lost.
  await redis.stop()
  a.send({ type: 'broadcast', room: 'room', data: 'during' })
  await waitFor(
    'local delivery during the outage',
    () => a2.of('message', (m) => m.data === 'during').length === 1,
  )
  await redis.restart()

  // Cross-node delivery resumes once the nodes have resubscribed (bounded retries).
  for (let i = 0; i < 300 && b.of('message', (m) => m.data === 'after').length === 0; i++) {
    a.send({ type: 'broadcast', room: 'room', data: 'after' })
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  expect(b.of('message', (m) => m.data === 'after').length).toBeGreaterThan(0)
  expect(b.of('message', (m) => m.data === 'during')).toEqual([])
  // Each node resubscribes on its own schedule: ask until every node is back (bounded).
  const everyone = [a.id, a2.id, b.id].sort()
  let answer = await b.members('room')
  for (let i = 0; i < 100 && String(answer.members) !== String(everyone); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    answer = await b.members('room')
  }
  expect(answer).toMatchObject({ members: everyone, complete: true })

  // A clean shutdown of n2: its member leaves everywhere.
  const exited = once(n2.child, 'exit')
  n2.child.kill('SIGTERM')
  expect((await exited)[0]).toBe(0)
  await waitFor('user_left for b', () =>
    [a, a2].every((client) => client.of('user_left', (m) => m.connectionId === b.id).length === 1),
  )

  const exit1 = once(n1.child, 'exit')
  n1.child.kill('SIGTERM')
  expect((await exit1)[0]).toBe(0)
}, 60_000)
