import { Duplex } from 'node:stream'

/**
 * A socket-like duplex whose peer is not reading: each write stays pending until `flush()`, so a
 * small write already makes `write()` return false and the writable side need a drain.
 */
export function stalledDuplex(): { stream: Duplex; flush: () => void } {
  let pending: (() => void) | undefined
  const stream = new Duplex({
    highWaterMark: 4,
    read() {},
    write(_chunk, _enc, cb) {
      pending = cb
    },
  })
  return { stream, flush: () => pending?.() }
}
