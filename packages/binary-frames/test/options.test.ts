// Unknown option keys are a TypeError (ERR_INVALID_ARG_VALUE) from core's validator, at every
// entry point that takes options: a misspelt limit must not silently fall back to the default.
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  attachBinaryFrames,
  BinaryFrameDecoder,
  BinaryProtocolHandler,
  createBinaryFrameStream,
  createBinaryFrameTransform,
  DATA,
  encodeFrame,
  encodeFrameParts,
  iterateBinaryFrames,
  writeFrame,
} from '../src/index.ts'

const unknown = (key: string) =>
  expect.objectContaining({
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: expect.stringContaining(`option ${key}.`),
  })
// A misspelling of maxFrameBytes, the mistake this guards against.
const typo = { maxFrameSize: 10 } as never
const x = Buffer.from('x')

describe('unknown option keys', () => {
  it('are rejected by the decoder, the handler and the encoders', () => {
    expect(() => new BinaryFrameDecoder(typo)).toThrow(unknown('maxFrameSize'))
    expect(() => new BinaryFrameDecoder({ heartbeat: false } as never)).toThrow(
      unknown('heartbeat'),
    )
    expect(() => new BinaryProtocolHandler(new PassThrough(), typo)).toThrow(
      unknown('maxFrameSize'),
    )
    expect(() => encodeFrame(DATA, x, 0, typo)).toThrow(unknown('maxFrameSize'))
    expect(() => encodeFrameParts(DATA, x, 0, typo)).toThrow(unknown('maxFrameSize'))
    expect(() => writeFrame(new PassThrough(), DATA, x, 0, typo)).toThrow(unknown('maxFrameSize'))
  })

  it('are rejected by the adapters, which accept their own options and the decoder’s', () => {
    const source = new PassThrough()
    expect(() => iterateBinaryFrames(source, typo)).toThrow(unknown('maxFrameSize'))
    expect(() => createBinaryFrameTransform({ batch: true } as never)).toThrow(unknown('batch'))
    expect(() => createBinaryFrameStream(typo)).toThrow(unknown('maxFrameSize'))
    expect(() => attachBinaryFrames(source, { frame() {}, error() {} }, typo)).toThrow(
      unknown('maxFrameSize'),
    )

    iterateBinaryFrames(source, { batch: true, maxFrameBytes: 10, types: [DATA] })
    createBinaryFrameTransform({ readableHighWaterMark: 4, copy: true })
    createBinaryFrameStream({ onRecoverableError() {}, allowedFlags: 1 })
    attachBinaryFrames(
      source,
      { frame() {}, error() {} },
      { maxPending: 2, oversize: 'skip' },
    ).detach()
    source.destroy()
  })

  it('are not confused with the options a handler passes to its decoder', () => {
    const handler = new BinaryProtocolHandler(new PassThrough(), {
      maxSendBytes: 100,
      heartbeat: false,
      maxFrameBytes: 10,
    })
    expect(handler.skipped).toBe(0)
    handler.detach()
  })
})
