import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { routeCodecError } from '../../src/codec/error-policy.ts'
import { checkFrameLimit, DEFAULT_MAX_FRAME_BYTES } from '../../src/codec/limits.ts'
import { ProtocolError } from '../../src/errors.ts'

const fatal = () => new ProtocolError('ERR_BAD_LENGTH', 'bad')
const soft = () => new ProtocolError('ERR_INVALID_JSON', 'bad json', { recoverable: true })

describe('routeCodecError', () => {
  it('skips a recoverable error when nobody listens, leaving the socket open', () => {
    const socket = new PassThrough()
    expect(routeCodecError(new EventEmitter(), socket, soft())).toBe('skipped')
    expect(socket.destroyed).toBe(false)
  })

  it('destroys the socket with a fatal error when nobody listens, without an uncaught error', async () => {
    const socket = new PassThrough()
    const error = fatal()
    expect(routeCodecError(new EventEmitter(), socket, error)).toBe('destroyed')
    expect(socket.destroyed).toBe(true)
    await new Promise((resolve) => setImmediate(resolve))
    expect(socket.errored).toBe(error)
  })

  it('emits to a listener and ends the socket after a fatal error', async () => {
    const emitter = new EventEmitter()
    const seen: ProtocolError[] = []
    emitter.on('error', (e: ProtocolError) => seen.push(e))
    const socket = new PassThrough()
    socket.resume()
    expect(routeCodecError(emitter, socket, soft())).toBe('emitted')
    expect(socket.writableEnded).toBe(false)
    expect(routeCodecError(emitter, socket, fatal())).toBe('emitted')
    expect(seen.map((e) => e.code)).toEqual(['ERR_INVALID_JSON', 'ERR_BAD_LENGTH'])
    expect(socket.writableEnded).toBe(true)
    await new Promise((resolve) => socket.once('close', resolve))
    expect(socket.destroyed).toBe(true)
  })
})

describe('checkFrameLimit', () => {
  it('defaults to 8 MiB and accepts 0 and the maximum', () => {
    expect(checkFrameLimit(undefined, 100)).toBe(DEFAULT_MAX_FRAME_BYTES)
    expect(checkFrameLimit(0, 100)).toBe(0)
    expect(checkFrameLimit(100, 100)).toBe(100)
  })

  it('names the option in a RangeError for a value out of range or not an integer', () => {
    expect(() => checkFrameLimit(101, 100, 'maxSendBytes')).toThrow(/maxSendBytes .* got 101/)
    expect(() => checkFrameLimit(-1, 100)).toThrow(RangeError)
    expect(() => checkFrameLimit(1.5, 100)).toThrow(RangeError)
    expect(() => checkFrameLimit(Number.NaN, 100)).toThrow(RangeError)
  })
})
