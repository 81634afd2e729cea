// The whole suite against the demo server (apps/demo-server, built): every case of every
// protocol passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROTOCOLS, run } from '../src/index.ts'
import type { Protocol } from '../src/types.ts'
import { type Demo, startDemo } from './demo.ts'

let demo: Demo
beforeAll(async () => {
  demo = await startDemo()
})
afterAll(async () => {
  await demo?.stop()
})

const portFor = (protocol: Protocol) =>
  protocol === 'json-frames' || protocol === 'file-transfer'
    ? demo.ports.message
    : demo.ports.binary

describe('the demo server passes every case', () => {
  for (const protocol of PROTOCOLS) {
    it(protocol, async () => {
      // A generous wait per expectation: passing cases never sit it out, and a loaded CI machine
      // must not turn a slow answer into a failure.
      const report = await run({ protocol, port: portFor(protocol), timeout: 5000 })
      expect(
        report.results.filter((r) => r.status !== 'pass').map((r) => `${r.id}: ${r.reason}`),
      ).toEqual([])
      expect(report.ok).toBe(true)
    })
  }
})
