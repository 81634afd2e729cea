// Loaded into the server under test with `node --require`: answers the suite's requests for the
// process's own memory and handle figures over the IPC channel, after a full GC when asked, so
// leak checks compare settled numbers instead of whatever the collector last left. The channel
// is unref'd: the probe must never be what keeps a closing server alive.
'use strict'
if (typeof process.send === 'function') {
  // The longest event-loop stall since the last read: how long the server could not answer anyone.
  const delay = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  process.on('message', (message) => {
    if (message === null || typeof message !== 'object' || message.type !== 'reliability:stats')
      return
    if (message.gc === true && typeof globalThis.gc === 'function') {
      globalThis.gc()
      globalThis.gc()
    }
    const memory = process.memoryUsage()
    process.send({
      type: 'reliability:stats',
      id: message.id,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      handles: process._getActiveHandles().length,
      loopDelayMax: delay.max / 1e6,
    })
    delay.reset()
  })
  process.channel.unref()
}
