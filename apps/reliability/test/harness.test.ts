import { describe, expect, it } from 'vitest'
import { unexpectedFailures } from '../src/known-failures.ts'
import { markdownTable } from '../src/report.ts'
import type { ScenarioResult } from '../src/scenario.ts'
import { metricSum, parsePrometheus } from '../src/server.ts'

const METRICS = `# HELP verb_tcp_messages_sent_total Messages sent
# TYPE verb_tcp_messages_sent_total counter
verb_tcp_messages_sent_total{port="message",type="pong"} 12
verb_tcp_messages_sent_total{port="message",type="room_message"} 30
verb_tcp_messages_sent_total{port="binary",type="pong"} 5
verb_tcp_connections{port="echo"} 0
`

const result = (failures: string[]): ScenarioResult => ({
  name: 'hostile',
  load: 'l',
  outcome: failures.length > 0 ? 'fail' : 'pass',
  figures: { 'a|b': 1 },
  failures,
  seconds: 1,
})

describe('the harness', () => {
  it('reads Prometheus text and sums series by labels', () => {
    const metrics = parsePrometheus(METRICS)
    expect(metricSum(metrics, 'verb_tcp_messages_sent_total')).toBe(47)
    expect(metricSum(metrics, 'verb_tcp_messages_sent_total', { port: 'message' })).toBe(42)
    expect(
      metricSum(metrics, 'verb_tcp_messages_sent_total', { port: 'message', type: 'pong' }),
    ).toBe(12)
    expect(metricSum(metrics, 'verb_tcp_connections')).toBe(0)
    expect(metricSum(metrics, 'verb_tcp_missing')).toBeUndefined()
  })

  it('lets a known bug through but never a crash or anything else', () => {
    // Shaped like the entries the suite has carried: a phase's failures, except a dead server.
    const known = [
      {
        scenario: 'hostile',
        pattern: /^never-reading clients \(message\): (?!the server died)/,
        bug: 'an example',
      },
    ]
    const phase = 'never-reading clients (message)'
    expect(
      unexpectedFailures(result([`${phase}: a new connection waited 6 s for its welcome`]), known),
    ).toEqual([])
    expect(unexpectedFailures(result([`${phase}: the server died (exit 1)`]), known)).toHaveLength(
      1,
    )
    expect(
      unexpectedFailures(
        result(['heartbeat flood (binary): the observer made 2 binary round trips']),
        known,
      ),
    ).toHaveLength(1)
    expect(
      unexpectedFailures({ ...result([`${phase}: waited`]), name: 'load' }, known),
    ).toHaveLength(1)
    // The suite's own list (empty once every fix has landed) lets nothing else through.
    expect(
      unexpectedFailures(result(['slowloris (echo): no new connection was greeted'])),
    ).toHaveLength(1)
  })

  it('writes one table row per scenario, pipes escaped', () => {
    const table = markdownTable([result([])])
    expect(table.split('\n')).toHaveLength(3)
    expect(table).toContain('a\\|b: 1')
  })
})
