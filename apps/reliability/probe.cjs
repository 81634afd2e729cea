// Loaded into the server under test with `node --require`: answers the suite's requests for the
// process's own memory and handle figures over the IPC channel, after a full GC when asked, so
// leak checks compare settled numbers instead of whatever the collector last left. The channel
// is unref'd: the probe must never be what keeps a closing server alive.
'use strict'
// Not in a cluster worker (`--workers`, which inherits `--require`): its channel is the
// cluster's own, which the worker needs to listen, and unref'd it let the worker exit while it
// waited for the primary's answer. The suite's figures are the primary's.
if (typeof process.send === 'function' && !require('node:cluster').isWorker) {
  // The longest event-loop stall since the last read: how long the server could not answer anyone.
  const delay = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  // The same stall counted in CPU time: between two ticks of a 10 ms timer, the CPU the process
  // used (capped at the wall time). A process the OS did not schedule (a loaded machine) shows a
  // long wall-clock delay but little CPU; a loop busy with one connection's work shows both.
  let busyMax = 0
  let lastWall = process.hrtime.bigint()
  let lastCpu = process.cpuUsage()
  setInterval(() => {
    const wall = Number(process.hrtime.bigint() - lastWall) / 1e6
    const cpu = process.cpuUsage(lastCpu)
    busyMax = Math.max(busyMax, Math.min(wall, (cpu.user + cpu.system) / 1000))
    lastWall = process.hrtime.bigint()
    lastCpu = process.cpuUsage()
  }, 10).unref()
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
      busyStallMax: busyMax,
    })
    delay.reset()
    busyMax = 0
  })
  process.channel.unref()
}
