// The per-member send queue on its own, with stand-in sockets: one write per member per turn,
// the cap on what a member may hold, and what happens to a member over it.
import type { TCPSocket } from '@verb-tcp/core'
import { describe, expect, it } from 'vitest'
import { type QueuedMember, SendQueue } from '../src/send-queue.ts'

/** A member whose socket records its writes and reports `buffered` unsent bytes. */
function member(buffered = 0) {
  const writes: Buffer[] = []
  const socket = {
    destroyed: false,
    writable: true,
    writableLength: buffered,
    write: (bytes: Uint8Array) => {
      writes.push(Buffer.from(bytes))
      return true
    },
  }
  const m: QueuedMember = {
    socket: socket as unknown as TCPSocket,
    pending: undefined,
    pendingBytes: 0,
    socketBuffered: 0,
  }
  return { m, socket, writes }
}

const bytes = (text: string) => Buffer.from(text)
const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('SendQueue', () => {
  it("writes a member's messages of one turn in one write, in order", async () => {
    const queue = new SendQueue(1024, () => {})
    const a = member()
    const b = member()
    expect(queue.enqueue(a.m, bytes('one '))).toBe(true)
    expect(queue.enqueue(b.m, bytes('x'))).toBe(true)
    expect(queue.enqueue(a.m, bytes('two'))).toBe(true)
    expect(a.writes).toEqual([])
    await turn()
    expect(a.writes.map(String)).toEqual(['one two'])
    expect(b.writes.map(String)).toEqual(['x'])
  })

  it('refuses a message that would take the socket and the queue past the cap, and says so', () => {
    const slow: [QueuedMember, number][] = []
    const queue = new SendQueue(10, (m, buffered) => slow.push([m, buffered]))
    const a = member(4)
    expect(queue.enqueue(a.m, bytes('123456'))).toBe(true) // 4 + 6 = 10: at the cap
    expect(queue.enqueue(a.m, bytes('7'))).toBe(false)
    expect(slow).toEqual([[a.m, 10]])
    const full = member(10)
    expect(queue.enqueue(full.m, bytes('1'))).toBe(false)
    expect(slow[1]).toEqual([full.m, 10])
  })

  it('queues nothing for a destroyed or unwritable socket, and skips one destroyed before the flush', () => {
    const queue = new SendQueue(1024, () => {})
    const gone = member()
    gone.socket.destroyed = true
    expect(queue.enqueue(gone.m, bytes('x'))).toBe(false)
    const later = member()
    expect(queue.enqueue(later.m, bytes('x'))).toBe(true)
    later.socket.destroyed = true
    queue.flush()
    expect(later.writes).toEqual([])
  })

  it('discard() forgets a member’s queued messages; flush() writes the rest at once', () => {
    const queue = new SendQueue(1024, () => {})
    const a = member()
    const b = member()
    queue.enqueue(a.m, bytes('dropped'))
    queue.enqueue(b.m, bytes('kept'))
    queue.discard(a.m)
    queue.flush()
    expect(a.writes).toEqual([])
    expect(b.writes.map(String)).toEqual(['kept'])
  })
})
