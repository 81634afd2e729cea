import type { Worker } from 'node:cluster'
import type {
  MemberInfo,
  MembersResult,
  PublishOptions,
  RoomMember,
  RoomsAdapter,
  RoomsAdapterHost,
} from '@verb-tcp/rooms'

/**
 * What one worker's rooms tell the others, through the primary (`--workers` without `--redis`).
 * Every envelope goes to every other worker, in the order its sender sent it (one IPC channel
 * each way, relayed in order by the primary).
 */
type Envelope =
  | { kind: 'publish'; room: string; bytes: string; exclude: string | undefined }
  | { kind: 'join' | 'leave'; room: string; member: MemberInfo }
  /** A worker that has just started: the others answer with `state`. */
  | { kind: 'hello' }
  /** The members of the answering worker, for one new worker (`to`). */
  | { kind: 'state'; to: string; members: [room: string, member: MemberInfo][] }
  /** The worker closed its rooms, or the primary saw it exit: its members have left. */
  | { kind: 'gone' }

export interface RoomsMessage {
  verb: 'rooms'
  /** The node id of the worker the envelope is from (`w<worker id>`). */
  from: string
  envelope: Envelope
}

export const isRoomsMessage = (m: unknown): m is RoomsMessage =>
  typeof m === 'object' && m !== null && (m as { verb?: unknown }).verb === 'rooms'

/** A worker's node id: the prefix of its connection ids. */
export const nodeIdOf = (workerId: number): string => `w${workerId}`

/**
 * The primary's half: relays each worker's envelopes to the other workers (a `state` to the one
 * it names), and announces a worker that exited as `gone`.
 */
export function relayRooms(workers: () => Iterable<Worker>) {
  const send = (to: Worker, message: RoomsMessage) => {
    if (to.isConnected()) to.send(message)
  }
  return {
    relay(from: Worker, message: RoomsMessage): void {
      const { envelope } = message
      for (const worker of workers()) {
        if (worker === from) continue
        if (envelope.kind === 'state' && nodeIdOf(worker.id) !== envelope.to) continue
        send(worker, message)
      }
    },
    gone(exited: Worker): void {
      const message: RoomsMessage = {
        verb: 'rooms',
        from: nodeIdOf(exited.id),
        envelope: { kind: 'gone' },
      }
      for (const worker of workers()) if (worker !== exited) send(worker, message)
    },
  }
}

/**
 * A worker's rooms adapter when there is no Redis: rooms, broadcasts and private messages reach
 * the clients of every worker through the primary. Each worker keeps the members the others
 * announced, so `members()` needs no round trip.
 */
export class PrimaryRoomsAdapter implements RoomsAdapter {
  readonly nodeId: string
  #host: RoomsAdapterHost | undefined
  /** Members on other workers, by room, then connection id. */
  readonly #remote = new Map<string, Map<string, RoomMember>>()
  readonly #onMessage = (message: unknown) => {
    if (isRoomsMessage(message) && message.from !== this.nodeId) this.#receive(message)
  }

  constructor(nodeId: string) {
    this.nodeId = nodeId
  }

  attach(host: RoomsAdapterHost): void {
    this.#host = host
    process.on('message', this.#onMessage)
    this.#send({ kind: 'hello' })
  }

  // Every envelope reaches every worker; one with no member in the room delivers to nobody.
  subscribe(): void {}
  unsubscribe(): void {}

  publish(room: string, bytes: Uint8Array, options: PublishOptions): void {
    const encoded = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
    this.#send({ kind: 'publish', room, bytes: encoded, exclude: options.exclude })
  }

  join(room: string, member: MemberInfo): void {
    this.#send({ kind: 'join', room, member })
  }

  leave(room: string, member: MemberInfo): void {
    this.#send({ kind: 'leave', room, member })
  }

  async members(room: string): Promise<MembersResult> {
    const local = (this.#host?.localMembers(room) ?? []).map((m) => ({
      ...m,
      nodeId: this.nodeId,
    }))
    return { members: [...local, ...(this.#remote.get(room)?.values() ?? [])], complete: true }
  }

  async close(): Promise<void> {
    this.#send({ kind: 'gone' })
    process.off('message', this.#onMessage)
    this.#host = undefined
  }

  #send(envelope: Envelope): void {
    const message: RoomsMessage = { verb: 'rooms', from: this.nodeId, envelope }
    if (process.connected) process.send?.(message)
  }

  #receive({ from, envelope }: RoomsMessage): void {
    const host = this.#host
    if (!host) return
    switch (envelope.kind) {
      case 'publish':
        host.deliver(envelope.room, Buffer.from(envelope.bytes, 'base64'), envelope.exclude)
        return
      case 'join': {
        const member = { ...envelope.member, nodeId: from }
        this.#add(envelope.room, member)
        host.remoteJoined(envelope.room, member)
        return
      }
      case 'leave': {
        const member = this.#remote.get(envelope.room)?.get(envelope.member.connectionId)
        this.#remote.get(envelope.room)?.delete(envelope.member.connectionId)
        host.remoteLeft(envelope.room, member ?? { ...envelope.member, nodeId: from })
        return
      }
      case 'hello': {
        const members: [string, MemberInfo][] = []
        for (const room of host.localRooms()) {
          for (const member of host.localMembers(room)) members.push([room, member])
        }
        this.#send({ kind: 'state', to: from, members })
        return
      }
      case 'state':
        if (envelope.to !== this.nodeId) return
        for (const [room, member] of envelope.members) this.#add(room, { ...member, nodeId: from })
        return
      case 'gone':
        for (const [room, members] of this.#remote) {
          for (const member of [...members.values()]) {
            if (member.nodeId !== from) continue
            members.delete(member.connectionId)
            host.remoteLeft(room, member)
          }
        }
    }
  }

  #add(room: string, member: RoomMember): void {
    let members = this.#remote.get(room)
    if (!members) {
      members = new Map()
      this.#remote.set(room, members)
    }
    members.set(member.connectionId, member)
  }
}
