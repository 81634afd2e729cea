import type { MembersResult, RoomMember } from '@verb-tcp/rooms'
import {
  encodeMembersReply,
  encodeMembersRequest,
  type MembersReplyEnvelope,
  type MembersRequestEnvelope,
} from './envelope.ts'
import { decodeMemberInfo } from './member-info.ts'

/** What members queries need of their adapter. */
export interface MembersQueryLink {
  /** This node's envelope header. */
  readonly header: Buffer
  readonly requestsChannel: string
  replyChannel(nodeId: string): string
  /** Publishes; resolves with the number of receivers, rejects (already reported) on failure. */
  publish(channel: string, envelope: Buffer): Promise<number>
  report(error: Error): void
  /** A reply carried a member that could not be decoded (left out). */
  malformed(): void
  /** A query was answered without some node's reply. */
  incomplete(): void
  /**
   * Where PUBLISH's answer does not count every node that got the request (a Redis Cluster
   * counts only the subscribers on the node that took the PUBLISH): how many nodes to expect a
   * reply from, this one included.
   */
  nodes?: () => Promise<number>
}

interface PendingQuery {
  members: RoomMember[]
  repliedBy: Set<string>
  expected: number | undefined
  resolve: (result: MembersResult) => void
  timer: NodeJS.Timeout
}

/**
 * `members()` across nodes: a request on the channel every node listens to, one reply from
 * each other node on the asker's own channel, and a timeout for nodes that never answer.
 */
export class MembersQueries {
  readonly #link: MembersQueryLink
  readonly #pending = new Map<number, PendingQuery>()
  #next = 0

  constructor(link: MembersQueryLink) {
    this.#link = link
  }

  /** Asks every other node for its members of `room`; `members` are this node's own. */
  ask(room: string, members: RoomMember[], timeoutMs: number): Promise<MembersResult> {
    this.#next = (this.#next + 1) >>> 0
    const requestId = this.#next
    return new Promise<MembersResult>((resolve) => {
      const query: PendingQuery = {
        members,
        repliedBy: new Set(),
        expected: undefined,
        resolve,
        timer: setTimeout(() => this.#finish(requestId, false), timeoutMs),
      }
      this.#pending.set(requestId, query)
      let envelope: Buffer
      try {
        envelope = encodeMembersRequest(this.#link.header, requestId, room)
      } catch (error) {
        this.#link.report(error as Error)
        this.#finish(requestId, false)
        return
      }
      const nodes = this.#link.nodes
      this.#link
        .publish(this.#link.requestsChannel, envelope)
        .then((receivers) => (nodes ? nodes() : receivers))
        .then(
          (receivers) => {
            // Every subscriber of the request channel got it, this node's own included.
            query.expected = Math.max(0, receivers - 1)
            if (query.repliedBy.size >= query.expected) this.#finish(requestId, true)
          },
          () => this.#finish(requestId, false),
        )
    })
  }

  /** Answers another node's request with this node's members of the room. */
  answer(request: MembersRequestEnvelope, list: { connectionId: string; info: Buffer }[]): void {
    let reply: Buffer
    try {
      reply = encodeMembersReply(this.#link.header, request.requestId, list)
    } catch (error) {
      this.#link.report(error as Error)
      return
    }
    this.#link.publish(this.#link.replyChannel(request.nodeId), reply).catch(() => {})
  }

  onReply(envelope: MembersReplyEnvelope): void {
    const query = this.#pending.get(envelope.requestId)
    if (query === undefined || query.repliedBy.has(envelope.nodeId)) return
    query.repliedBy.add(envelope.nodeId)
    for (const { connectionId, info } of envelope.members) {
      const member = decodeMemberInfo(connectionId, info)
      if (member === undefined) this.#link.malformed()
      else query.members.push(member)
    }
    if (query.expected !== undefined && query.repliedBy.size >= query.expected) {
      this.#finish(envelope.requestId, true)
    }
  }

  /** Answers every pending query now with what it has (incomplete). */
  finishAll(): void {
    for (const id of [...this.#pending.keys()]) this.#finish(id, false)
  }

  #finish(requestId: number, complete: boolean): void {
    const query = this.#pending.get(requestId)
    if (query === undefined) return
    this.#pending.delete(requestId)
    clearTimeout(query.timer)
    if (!complete) this.#link.incomplete()
    query.resolve({ members: query.members, complete })
  }
}
