import { TurnBudget } from '@verb-tcp/core/codec'
import { closeAll, loopbackPair, turns, until } from '@verb-tcp/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { ReadScheduler } from '../src/fair-reads.ts'

afterEach(closeAll)

describe('ReadScheduler', () => {
  it('resumes a connection it paused while its writes waited for drain, once they drain', async () => {
    // One unit per turn: every read spends the budget, so the socket is paused after each one.
    const reads = new ReadScheduler(new TurnBudget(1))
    const { client, server } = await loopbackPair()
    reads.add(server)
    let received = 0
    server.on('data', (chunk: Buffer) => {
      received += chunk.length
    })
    // The client does not read: the server's writes fill the socket until they wait for drain.
    client.pause()
    const block = Buffer.alloc(1 << 20)
    for (let i = 0; i < 256 && server.write(block); i++);
    expect(server.writableNeedDrain).toBe(true)

    client.write('a')
    await until(() => received === 1)
    await turns(20) // the scheduler's turn runs while the socket still waits for drain
    expect(server.isPaused()).toBe(true)
    client.write('b')
    await turns(20)
    expect(received).toBe(1)

    // Like a mux session, nothing else resumes this socket: the drain must.
    client.resume()
    await until(() => received === 2)
  })
})
