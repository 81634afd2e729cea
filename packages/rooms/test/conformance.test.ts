// The in-process adapter against the conformance cases every adapter must pass.
import { it } from 'vitest'
import { InProcessAdapter, InProcessBus } from '../src/index.ts'
import { adapterConformance } from '../src/testing.ts'

const cases = adapterConformance({
  async create(nodes) {
    const bus = new InProcessBus()
    return Array.from({ length: nodes }, () => new InProcessAdapter({ bus }))
  },
})
for (const { name, run } of cases) it(name, run, 30_000)
