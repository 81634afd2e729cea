import { type Message, MessageClient } from '../clients.ts'
import { needPorts, OPEN_LIMITS } from '../limits.ts'
import { expect, type Scenario } from '../scenario.ts'
import { metricSum } from '../server.ts'
import { percentile, pool, waitFor } from '../util.ts'

const ROOM_SIZE = 10

/**
 * Many concurrent clients on the message port, each in a room of ten, each sending pings and
 * room messages; every message is accounted for at the receiving end (exactly once) and against
 * the server's own counters when it exposes them.
 */
export const load: Scenario = {
  name: 'load',
  needs: ['message'],
  async run({ mode, startServer, log }, report) {
    const connections = mode === 'full' ? 10_000 : 300
    const pings = 5
    const roomMessages = 5
    report.load = `${connections.toLocaleString('en')} concurrent message-port connections, rooms of ${ROOM_SIZE}, ${pings} pings + ${roomMessages} room messages each`
    const server = await startServer({ flags: { ...OPEN_LIMITS } })
    if (!needPorts(server, report, ['message'])) return
    const port = server.ports.message as number
    const before = await server.metrics()

    const clients: MessageClient[] = new Array(connections)
    const pongIds: Array<Set<string>> = []
    const roomSeen: Array<Map<string, number>> = []
    const rtts: number[] = []
    let duplicatePongs = 0
    let duplicateRoom = 0
    let ownEchoes = 0
    let errors = 0
    const start = Date.now()
    log(`load: opening ${connections} connections`)
    await pool(connections, 200, async (i) => {
      const client = await MessageClient.connect(port, { keep: false })
      clients[i] = client
      const pongs = new Set<string>()
      const seen = new Map<string, number>()
      pongIds[i] = pongs
      roomSeen[i] = seen
      client.onMessage = (m: Message) => {
        if (m.type === 'pong' && typeof m.id === 'string') {
          if (pongs.has(m.id)) duplicatePongs++
          pongs.add(m.id)
          if (typeof m.sentAt === 'number') rtts.push(Date.now() - m.sentAt)
        } else if (m.type === 'room_message') {
          const data = m.data as { from?: number; seq?: number } | undefined
          if (data?.from === i) {
            ownEchoes++
            return
          }
          const key = `${data?.from}:${data?.seq}`
          const n = (seen.get(key) ?? 0) + 1
          if (n > 1) duplicateRoom++
          seen.set(key, n)
        } else if (m.type === 'error') errors++
      }
      await client.nextOfType('welcome', 30_000)
      client.send({ type: 'join_room', room: `load-${Math.floor(i / ROOM_SIZE)}` })
      // Replies come in order: the pong after the join means the join has been handled.
      client.send({ type: 'ping', id: `join-${i}`, sentAt: Date.now() })
      await waitFor(() => pongs.has(`join-${i}`) || client.closed, 60_000)
    })
    const opened = clients.filter((c) => c && !c.closed).length
    const openSeconds = (Date.now() - start) / 1000
    log(`load: ${opened} open in ${openSeconds.toFixed(1)} s; sending`)

    const trafficStart = Date.now()
    for (let k = 0; k < Math.max(pings, roomMessages); k++) {
      for (let i = 0; i < connections; i++) {
        const client = clients[i] as MessageClient
        if (k < pings) client.send({ type: 'ping', id: `${i}:${k}`, sentAt: Date.now() })
        if (k < roomMessages)
          client.send({
            type: 'room_message',
            room: `load-${Math.floor(i / ROOM_SIZE)}`,
            data: { from: i, seq: k },
          })
      }
      // One round at a time keeps the client's own write queues from growing without bound.
      await new Promise((resolve) => setImmediate(resolve))
    }

    const membersOf = (i: number) =>
      Math.min(ROOM_SIZE, connections - Math.floor(i / ROOM_SIZE) * ROOM_SIZE)
    const expectedRoom = (i: number) => (membersOf(i) - 1) * roomMessages
    const pongTotal = () => pongIds.reduce((sum, s) => sum + s.size, 0) - connections
    const roomTotal = () => roomSeen.reduce((sum, s) => sum + s.size, 0)
    let expectedRoomTotal = 0
    for (let i = 0; i < connections; i++) expectedRoomTotal += expectedRoom(i)
    const expectedPongs = connections * pings
    await waitFor(
      () => pongTotal() >= expectedPongs && roomTotal() >= expectedRoomTotal,
      mode === 'full' ? 180_000 : 60_000,
      50,
    )
    const trafficSeconds = (Date.now() - trafficStart) / 1000
    const after = await server.metrics()
    const closedEarly = clients.filter((c) => c.closed).length
    for (const client of clients) client.close()

    const lostPongs = expectedPongs - pongTotal()
    const lostRoom = expectedRoomTotal - roomTotal()
    rtts.sort((a, b) => a - b)
    const sent = connections * (pings + roomMessages + 2)
    report.figures = {
      connections: opened,
      'open time': `${openSeconds.toFixed(1)} s`,
      'messages sent': sent,
      'pongs received': pongTotal(),
      'room messages received': roomTotal(),
      lost: lostPongs + lostRoom,
      duplicated: duplicatePongs + duplicateRoom,
      'own room echoes': ownEchoes,
      'ping p50/p99': `${percentile(rtts, 50)} / ${percentile(rtts, 99)} ms`,
      'deliveries/s': Math.round((pongTotal() + roomTotal()) / trafficSeconds),
    }
    const serverIn = delta(before, after, 'verb_tcp_messages_received_total')
    // Both ends, type by type: what the clients received against what the server counted sent.
    const received = new Map<string, number>()
    for (const client of clients)
      for (const [type, n] of client.counts) received.set(type, (received.get(type) ?? 0) + n)
    const mismatched: string[] = []
    const uncounted: string[] = []
    for (const [type, n] of received) {
      const counted = delta(before, after, 'verb_tcp_messages_sent_total', type)
      if (counted === undefined) uncounted.push(`${type} ${n}`)
      else if (counted !== n) mismatched.push(`${type}: server ${counted}, clients ${n}`)
    }
    if (serverIn !== undefined) report.figures['server counted in'] = serverIn
    report.figures['received by type'] = [...received].map(([t, n]) => `${t} ${n}`).join(', ')
    if (uncounted.length > 0)
      report.figures['received, not in the server counters'] = uncounted.join(', ')
    expect(report, opened === connections, `${connections - opened} connections failed to open`)
    expect(report, closedEarly === 0, `${closedEarly} connections closed during the run`)
    expect(report, lostPongs === 0, `${lostPongs} pongs lost`)
    expect(report, lostRoom === 0, `${lostRoom} room messages lost`)
    expect(
      report,
      duplicatePongs + duplicateRoom === 0,
      `${duplicatePongs + duplicateRoom} duplicates`,
    )
    expect(report, errors === 0, `${errors} error messages from the server`)
    if (serverIn !== undefined)
      expect(
        report,
        serverIn === sent,
        `the server counted ${serverIn} messages in, the clients sent ${sent}`,
      )
    expect(report, mismatched.length === 0, `sent counts differ: ${mismatched.join('; ')}`)
    // The server counts every message it sends, notices and replies included.
    expect(
      report,
      uncounted.length === 0,
      `received but not counted sent by the server: ${uncounted.join(', ')}`,
    )
    expect(report, server.alive, 'the server died')
  },
}

/** How much a message-port counter of the server grew between two scrapes. */
/** How much a message-port counter of the server grew between two scrapes. */
function delta(
  before: Map<string, number>,
  after: Map<string, number>,
  name: string,
  type?: string,
): number | undefined {
  const labels: Record<string, string> =
    type === undefined ? { port: 'message' } : { port: 'message', type }
  const a = metricSum(after, name, labels)
  if (a === undefined) return undefined
  return a - (metricSum(before, name, labels) ?? 0)
}
