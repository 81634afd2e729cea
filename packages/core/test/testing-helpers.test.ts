import { once } from 'node:events'
import type { Socket } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { DecodeSink, SyncDecoder } from '../src/codec/decoder.ts'
import { ProtocolError } from '../src/errors.ts'
import {
  checkDecoder,
  closeAll,
  connectLoopback,
  createTCPClient,
  createTCPServer,
  cutAt,
  defer,
  everySplit,
  listenLoopback,
  loopbackPair,
  turns,
  until,
  workPerRoundTrip,
  writeUntilPaused,
} from '../src/testing.ts'

afterEach(closeAll)

describe('testing helpers', () => {
  it('closeAll runs deferred cleanups latest first, all of them even when one throws', async () => {
    const order: string[] = []
    defer(() => order.push('first'))
    defer(() => {
      throw new Error('second failed')
    })
    defer(async () => {
      await turns(1)
      order.push('third')
    })
    await expect(closeAll()).rejects.toThrow('second failed')
    expect(order).toEqual(['third', 'first'])
    await closeAll() // nothing left to run
    expect(order).toEqual(['third', 'first'])
  })

  it('loopbackPair connects a client to the socket the server accepted; closeAll ends both', async () => {
    const { client, server } = await loopbackPair()
    client.write('ping')
    const [data] = (await once(server, 'data')) as [Buffer]
    expect(String(data)).toBe('ping')
    await closeAll()
    expect(client.destroyed).toBe(true)
    await until(() => server.destroyed)
  })

  it('listenLoopback and connectLoopback: a server port and a client connected to it', async () => {
    const port = await listenLoopback((socket) => socket.end('hi'))
    const client = await connectLoopback(port)
    const [data] = (await once(client, 'data')) as [Buffer]
    expect(String(data)).toBe('hi')
  })

  it('turns lets I/O already delivered be handled, counted in event-loop turns', async () => {
    let ran = false
    setImmediate(() => {
      ran = true
    })
    await turns(1)
    expect(ran).toBe(true)
  })

  it('createTCPServer is bound when it returns and ready resolves with the same address', async () => {
    const server = createTCPServer()
    defer(() => server.close({ gracePeriod: 0 }))
    const address = server.address()
    expect(address.address).toBe('127.0.0.1')
    expect(await server.ready).toEqual(address)
  })

  it('createTCPClient connects with a promise and is a real socket', async () => {
    const server = createTCPServer({ onConnection: (s) => s.end('x') })
    defer(() => server.close({ gracePeriod: 0 }))
    const client = createTCPClient()
    defer(() => client.destroy())
    const connecting = client.connect(server.address().port, '127.0.0.1')
    expect(connecting).toBeInstanceOf(Promise)
    expect(await connecting).toBe(client)
    expect(client.remotePort).toBe(server.address().port)
  })

  it('rejects connect() for a port nobody listens on', async () => {
    const server = createTCPServer()
    const { port } = server.address()
    await server.close()
    const client = createTCPClient()
    defer(() => client.destroy())
    await expect(client.connect(port, '127.0.0.1')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('keeps a later socket error in lastError instead of crashing', async () => {
    const server = createTCPServer({
      onConnection: (s) => s.once('data', () => s.resetAndDestroy()),
    })
    defer(() => server.close({ gracePeriod: 0 }))
    const client = createTCPClient()
    defer(() => client.destroy())
    const closed = new Promise((r) => client.once('close', r))
    await client.connect(server.address().port, '127.0.0.1')
    client.resume() // a socket that does not read never sees the reset
    client.write('reset me')
    await closed
    expect(client.lastError).toMatchObject({ code: 'ECONNRESET' })
  })
  it('closeAll destroys open clients and closes open servers with their connections', async () => {
    const accepted: Socket[] = []
    const server = createTCPServer({ onConnection: (s) => void accepted.push(s) })
    const client = createTCPClient()
    await client.connect(server.address().port, '127.0.0.1')
    await until(() => accepted.length === 1)
    const done = createTCPServer()
    await done.close()
    await closeAll()
    expect(client.destroyed).toBe(true)
    expect(server.listening).toBe(false)
    await until(() => accepted[0]?.closed === true)
    await closeAll() // nothing left: resolves at once
  })
})

describe('chunking and waiting helpers', () => {
  const wire = Buffer.from('abcd')

  it('everySplit lists every two-chunk cut, empty halves included', () => {
    const cuts = everySplit(wire).map((c) => c.map((b) => b.toString()))
    expect(cuts).toEqual([
      ['', 'abcd'],
      ['a', 'bcd'],
      ['ab', 'cd'],
      ['abc', 'd'],
      ['abcd', ''],
    ])
  })

  it('everySplit and cutAt honour a view offset and never copy', () => {
    const backing = Buffer.from('xxabcd')
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 4)
    expect(everySplit(view)[1]?.map((b) => b.toString())).toEqual(['a', 'bcd'])
    const chunks = cutAt(view, [0.5])
    expect(chunks.map((b) => b.toString())).toEqual(['ab', 'cd'])
    expect(chunks[0]?.buffer).toBe(view.buffer)
  })

  it('cutAt cuts at fractions in any order, ignoring repeats, and loses no byte', () => {
    expect(cutAt(wire, []).map(String)).toEqual(['abcd'])
    expect(cutAt(wire, [0.75, 0.25, 0.25]).map(String)).toEqual(['a', 'bc', 'd'])
    expect(cutAt(wire, [0, 1]).map(String)).toEqual(['', 'abcd', ''])
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true })),
        (bytes, points) => {
          expect(Buffer.concat(cutAt(bytes, points))).toEqual(Buffer.from(bytes))
        },
      ),
      { numRuns: 200 },
    )
  })

  it('until resolves once the predicate holds, across turns and timers', async () => {
    let turns = 0
    await until(() => ++turns > 3)
    let ready = false
    setTimeout(() => {
      ready = true
    }, 20)
    await until(() => ready, { turns: 1 })
    expect(ready).toBe(true)
  })

  it('writeUntilPaused writes one request per answer until the server stops reading', async () => {
    let server: Socket | undefined
    let answered = 0
    const port = await listenLoopback((socket) => {
      server = socket
      socket.on('data', () => {
        answered++
        // What a handler does when its replies are not read: stop reading until they drain.
        if (!socket.write(Buffer.alloc(256 * 1024))) socket.pause()
      })
    })
    const client = await connectLoopback(port)
    client.pause()
    const sent = await writeUntilPaused(client, Buffer.from('q'), {
      server: () => server,
      answered: () => answered,
    })
    expect(server?.isPaused()).toBe(true)
    expect(sent).toBeGreaterThan(0)
    expect(answered).toBe(sent)
  })

  it('writeUntilPaused rejects when the server still reads after max requests', async () => {
    let server: Socket | undefined
    let answered = 0
    const port = await listenLoopback((socket) => {
      server = socket
      socket.on('data', () => void answered++)
    })
    const client = await connectLoopback(port)
    const wrote = writeUntilPaused(client, Buffer.from('q'), {
      server: () => server,
      answered: () => answered,
      max: 3,
    })
    await expect(wrote).rejects.toThrow('the server still reads after 3 requests')
  })

  it('workPerRoundTrip returns the most work done while one round trip waited', async () => {
    // A fake server: each round trip lets 3, then 7, then 5 units of flood work happen.
    const perTrip = [3, 7, 5]
    let done = 0
    let trip = 0
    const roundTrip = async () => {
      done += perTrip[trip++ % perTrip.length] ?? 0
      await turns(1)
    }
    expect(await workPerRoundTrip({ roundTrip, work: () => done, trips: 3 })).toEqual({
      trips: 3,
      most: 7,
    })
    expect(done).toBe(15)
  })

  it('workPerRoundTrip stops once the flood is handled, and over a real connection', async () => {
    let done = 0
    const stopped = await workPerRoundTrip({
      roundTrip: async () => {
        done += 10
      },
      work: () => done,
      total: 25,
    })
    expect(stopped).toEqual({ trips: 3, most: 10 })
    // Echo round trips over loopback, the work counted by the server.
    let echoed = 0
    const port = await listenLoopback((socket) =>
      socket.on('data', (data) => {
        echoed++
        socket.write(data)
      }),
    )
    const client = await connectLoopback(port)
    const real = await workPerRoundTrip({
      roundTrip: () => {
        const answer = once(client, 'data')
        client.write('x')
        return answer
      },
      work: () => echoed,
      trips: 5,
    })
    expect(real).toEqual({ trips: 5, most: 1 })
  })

  it('until rejects after its bounded tries', async () => {
    let calls = 0
    await expect(until(() => ++calls < 0, { turns: 5, waits: 2, interval: 1 })).rejects.toThrow(
      'condition not reached after 5 turns and 2 waits of 1 ms',
    )
    expect(calls).toBe(8)
  })
})

describe('checkDecoder', () => {
  /** A one-byte-per-frame decoder whose behaviour on 0xff is configurable. */
  const fake = (onBad: (sink: DecodeSink<number>) => void) => {
    let held = 0
    const decoder: SyncDecoder<number> = {
      push(chunk, sink) {
        for (const b of new Uint8Array(chunk as Uint8Array)) {
          if (b === 0xff) onBad(sink)
          else if (b === 0xfe) held++
          else sink.frame(b)
        }
      },
      end() {},
    }
    return { decoder, held: () => held }
  }
  const fatal = new ProtocolError('ERR_BAD', 'bad')

  it('returns frames and errors of a decoder that keeps the contract', () => {
    const { decoder } = fake((sink) => sink.error(fatal))
    const r = checkDecoder(decoder, cutAt(Buffer.from([1, 2, 0xff]), [0.5]))
    expect(r.frames).toEqual([1, 2])
    expect(r.errors.map((e) => e.code)).toEqual(['ERR_BAD'])
  })

  it('throws on a frame or an error after a fatal error', () => {
    const { decoder } = fake((sink) => sink.error(fatal))
    expect(() => checkDecoder(decoder, [Buffer.from([0xff, 1])])).toThrow(
      'a frame was delivered after a fatal error',
    )
    const again = fake((sink) => sink.error(fatal))
    expect(() => checkDecoder(again.decoder, [Buffer.from([0xff, 0xff])])).toThrow(
      'an error was delivered after a fatal error',
    )
  })

  it('throws on an uncoded error and on bytes held over the limit', () => {
    const { decoder } = fake((sink) => sink.error(new Error('x') as ProtocolError))
    expect(() => checkDecoder(decoder, [Buffer.from([0xff])])).toThrow('not a coded ProtocolError')
    const hoarder = fake(() => {})
    const options = { bufferedBytes: hoarder.held, maxBufferedBytes: 1 }
    expect(() => checkDecoder(hoarder.decoder, [Buffer.from([0xfe, 0xfe])], options)).toThrow(
      'holds 2 bytes after chunk 0, over 1',
    )
  })
})
