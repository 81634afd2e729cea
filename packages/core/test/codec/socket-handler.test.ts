import { Duplex, PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  SocketCodecHandler,
  type SocketCodecHandlerEvents,
} from '../../src/codec/socket-handler.ts'
import { ToyDecoder, toy } from './toy-decoder.ts'

interface ToyEvents extends SocketCodecHandlerEvents {
  toy: [value: string]
}

class ToyHandler extends SocketCodecHandler<string, ToyEvents> {
  constructor(socket: Duplex) {
    super(socket, new ToyDecoder())
  }
  protected onFrame(value: string): void {
    this.emit('toy', value)
  }
  send(ok: boolean): boolean {
    return this.sent(ok)
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('SocketCodecHandler', () => {
  it('dispatches frames and counts recoverable errors nobody listened to', async () => {
    const socket = new PassThrough()
    const handler = new ToyHandler(socket)
    const seen: string[] = []
    handler.on('toy', (v) => seen.push(v))
    socket.write(toy('a', '!bad', 'b'))
    await tick()
    expect(seen).toEqual(['a', 'b'])
    expect(handler.skipped).toBe(1)
    handler.detach()
  })

  it('destroys the socket on a fatal error without a listener, and emits it with one', async () => {
    const quiet = new PassThrough()
    new ToyHandler(quiet)
    quiet.write(Buffer.from([0xff]))
    await tick()
    expect(quiet.destroyed).toBe(true)

    const loud = new PassThrough()
    const handler = new ToyHandler(loud)
    const codes: string[] = []
    handler.on('error', (e) => codes.push(e.code))
    loud.write(Buffer.from([0xff]))
    await tick()
    expect(codes).toEqual(['ERR_TOY_FATAL'])
  })

  it('sent(false) pauses reading until the socket drains', async () => {
    // A peer that never reads: our writes are never completed until it does.
    let complete: (() => void) | undefined
    const socket = new Duplex({
      read() {},
      write(_chunk, _encoding, callback) {
        complete = callback
      },
      writableHighWaterMark: 1,
    })
    const handler = new ToyHandler(socket)
    expect(handler.send(true)).toBe(true)
    expect(socket.isPaused()).toBe(false)
    expect(handler.send(socket.write(Buffer.alloc(64)))).toBe(false)
    expect(socket.isPaused()).toBe(true)
    complete?.()
    await tick()
    expect(socket.isPaused()).toBe(false)
    handler.detach()
  })
})
