// Would one JSON.parse call per chunk beat one per message? Joining a chunk's payloads into a JSON
// array saves the per-call cost, but a plain comma join is unsafe: payloads `[1` and `2]` (each
// invalid) would merge into one valid element. Safe is a separator that is a sentinel element
// only we can write (`,"\u00ff",`: the raw character never occurs in ASCII payloads, and its
// escaped spellings are excluded by a search for `\u00`); every odd element must then be the
// sentinel. This script times, on 1,000,000 × 64-byte messages in strings of 11 framed messages
// each (a 730-byte chunk, decoded once), the per-message parse against the joined variants.
// It shows that the safe join costs more than it saves. Usage: node bench/json-batch.mjs
const N = 1_000_000
const strings = []
for (let i = 0; i < N; i++) {
  const head = `{"type":"event","id":${i},"data":"`
  strings.push(`${head}${'x'.repeat(64 - head.length - 2)}"}`)
}
const texts = []
for (let i = 0; i < N; i += 11) {
  let t = ''
  for (let j = i; j < Math.min(N, i + 11); j++) t += `64\n${strings[j]}`
  texts.push(t)
}

function bare() {
  let s = 0
  for (let i = 0; i < N; i++) s += JSON.parse(strings[i]).id
  return s
}
function perMessage() {
  let s = 0
  for (const t of texts)
    for (let a = 3; a < t.length; a += 67) s += JSON.parse(t.slice(a, a + 64)).id
  return s
}
function joined(separator, step) {
  return () => {
    let s = 0
    for (const t of texts) {
      let json = `[${t.slice(3, 67)}`
      for (let a = 70; a < t.length; a += 67) json += separator + t.slice(a, a + 64)
      const values = JSON.parse(`${json}]`)
      for (let i = 0; i < values.length; i += step) s += values[i].id
    }
    return s
  }
}
const variants = {
  'bare JSON.parse': bare,
  'per message (slices)': perMessage,
  'joined, commas (unsafe)': joined(',', 1),
  'joined, sentinels (safe)': joined(',"\u00ff",', 2),
}
const best = {}
const expected = bare()
for (let round = 0; round < 8; round++) {
  for (const [name, fn] of Object.entries(variants)) {
    const t = process.hrtime.bigint()
    if (fn() !== expected) throw new Error(`${name}: wrong sum`)
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, ms)
  }
}
for (const [name, ms] of Object.entries(best)) {
  console.log(
    `${name.padEnd(26)} ${ms.toFixed(0).padStart(5)} ms  ${(best['bare JSON.parse'] / ms).toFixed(2)}× bare`,
  )
}
