import { type Message, MessageClient } from '../clients.ts'
import { OPEN_LIMITS } from '../limits.ts'
import { haveRedis, isCI, RedisProcess } from '../redis.ts'
import { expect, type Scenario } from '../scenario.ts'
import type { ServerProcess } from '../server.ts'
import { pool, sleep, waitFor } from '../util.ts'

/** rooms-redis' defaults: a node silent for nodeTimeoutMs is dead, checked every heartbeatIntervalMs. */
const NODE_TIMEOUT = 15_000
const HEARTBEAT_INTERVAL = 5_000

interface Member {
  client: MessageClient
  id: string
  room: Message[]
  left: Set<string>
}

async function member(server: ServerProcess, room: string): Promise<Member> {
  const client = await MessageClient.connect(server.ports.message as number, { keep: false })
  const m: Member = { client, id: '', room: [], left: new Set() }
  client.onMessage = (message) => {
    if (message.type === 'room_message') m.room.push(message)
    else if (message.type === 'user_left' && typeof message.connectionId === 'string')
      m.left.add(message.connectionId)
  }
  m.id = String((await client.nextOfType('welcome')).connectionId)
  const joined = client.nextOfType('joined')
  client.send({ type: 'join_room', room })
  await joined
  return m
}

const seqsFrom = (m: Member, from: string) =>
  m.room.filter((r) => r.from === from).map((r) => (r.data as { seq: number }).seq)

/**
 * Two server processes sharing one Redis: rooms span them; Redis stopped and started again
 * mid-run (local delivery goes on during the outage, cross-node delivery resumes after it); one
 * server SIGKILLed (its members leave, for the other server's clients, within the heartbeat TTL).
 */
export const redis: Scenario = {
  name: 'redis',
  needs: ['message'],
  async run({ mode, startServer, log }, report) {
    const perNode = mode === 'full' ? 200 : 10
    report.load = `2 servers on one redis-server, ${perNode} room members on each; Redis stopped for 3 s mid-run; one server SIGKILLed`
    if (!haveRedis()) {
      // Under CI a skip would hide that the cross-process behaviour went untested.
      const why = 'redis-server is not installed'
      if (isCI()) report.failures.push(why)
      else report.skipped = why
      return
    }
    const redisServer = await RedisProcess.start()
    try {
      const flags = { ...OPEN_LIMITS, redis: redisServer.url }
      const a = await startServer({ flags })
      const b = await startServer({ flags })
      if (a.ignoredFlags.includes('redis')) {
        report.skipped = 'the server has no --redis flag'
        return
      }
      const room = 'across'
      const onA: Member[] = []
      const onB: Member[] = []
      await pool(perNode, 50, async (i) => {
        onA[i] = await member(a, room)
      })
      await pool(perNode, 50, async (i) => {
        onB[i] = await member(b, room)
      })
      const sender = onA[0] as Member
      let seq = 0
      const send = () => sender.client.send({ type: 'room_message', room, data: { seq: seq++ } })

      // Cross-node delivery at all: without it, --redis is not wired (or broken).
      send()
      const crossed = await waitFor(
        () => onB.every((m) => seqsFrom(m, sender.id).includes(0)),
        10_000,
      )
      const redisLogged = [...a.rawLogs, ...b.rawLogs].some((line) => /redis/i.test(line))
      if (!crossed && !redisLogged) {
        report.skipped =
          'the servers accept --redis but share no rooms through it (nothing in their logs about Redis)'
        return
      }
      expect(
        report,
        crossed,
        'a room message from one server did not reach the members on the other',
      )
      report.figures['cross-node delivery'] = crossed ? 'yes' : 'no'

      // Redis goes away for a while: local members keep getting everything.
      log('redis: stopping redis-server')
      const outageStart = seq
      await redisServer.stop()
      for (let k = 0; k < 30; k++) {
        send()
        await sleep(100)
      }
      const outageEnd = seq
      const localDuring = onA
        .slice(1)
        .map((m) => seqsFrom(m, sender.id).filter((s) => s >= outageStart && s < outageEnd).length)
      const localMissing = localDuring.reduce((sum, n) => sum + (outageEnd - outageStart - n), 0)
      report.figures['local delivery during the outage'] =
        `${localDuring.reduce((x, y) => x + y, 0)} of ${(outageEnd - outageStart) * (perNode - 1)}`
      expect(
        report,
        localMissing === 0,
        `${localMissing} local deliveries were lost while Redis was down`,
      )
      expect(report, a.alive && b.alive, 'a server died while Redis was down')
      log('redis: starting redis-server again')
      await redisServer.start()
      const restartedAt = Date.now()
      // Cross-node delivery resumes: a message sent after the restart reaches every member on B.
      let resumedAt = 0
      while (Date.now() - restartedAt < 60_000) {
        const probe = seq
        send()
        if (await waitFor(() => onB.every((m) => seqsFrom(m, sender.id).includes(probe)), 1000)) {
          resumedAt = Date.now()
          break
        }
      }
      report.figures['cross-node delivery resumed after restart'] = resumedAt
        ? `${resumedAt - restartedAt} ms`
        : 'not within 60 s'
      expect(
        report,
        resumedAt > 0,
        'cross-node delivery did not resume within 60 s of Redis coming back',
      )

      // SIGKILL one server: its members leave for the others within the heartbeat TTL.
      log('redis: SIGKILL of one server')
      const killedAt = Date.now()
      b.kill('SIGKILL')
      const bIds = onB.map((m) => m.id)
      const limit = NODE_TIMEOUT + 2 * HEARTBEAT_INTERVAL
      const allLeft = await waitFor(
        () => onA.every((m) => bIds.every((id) => m.left.has(id))),
        limit + 5000,
        100,
      )
      const leftAfter = Date.now() - killedAt
      report.figures['members of the killed server gone after'] = allLeft
        ? `${leftAfter} ms (TTL ${NODE_TIMEOUT} ms + heartbeat ${HEARTBEAT_INTERVAL} ms)`
        : `not within ${limit + 5000} ms`
      expect(
        report,
        allLeft && leftAfter <= limit,
        `the killed server's members left after ${allLeft ? leftAfter : 'never'} ms (limit ${limit})`,
      )
      expect(report, a.alive, 'the surviving server died')
      for (const m of [...onA, ...onB]) m.client.close()
    } finally {
      await redisServer.stop()
    }
  },
}
