// How close can any framing layer get to bare JSON.parse for 64-byte messages on 1,460-byte
// chunks? This "oracle" knows every frame boundary in advance (all frames are 67 bytes), parses no
// header and only checks each chunk for ASCII, decodes it to a string once and parses slices,
// joining the two pieces of a message that spans chunks. It prints its ratio to JSON.parse of
// pre-decoded strings, the json-bare-parse baseline of run.mjs. Usage: node bench/json-oracle.mjs
import { isAscii } from 'node:buffer'

const N = 1_000_000
const strings = []
for (let i = 0; i < N; i++) {
  const head = `{"type":"event","id":${i},"data":"`
  strings.push(`${head}${'x'.repeat(64 - head.length - 2)}"}`)
}
const wire = Buffer.concat(strings.map((s) => Buffer.from(`64\n${s}`)))
let seed = 7
const rnd = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x7fffffff
}
const chunks = []
for (let o = 0; o < wire.length; ) {
  const n = 1 + Math.floor(rnd() * 1460)
  chunks.push(wire.subarray(o, o + n))
  o += n
}

function oracle() {
  let sum = 0
  let pos = 0
  let carry = ''
  for (const c of chunks) {
    if (!isAscii(c)) throw new Error('not ASCII')
    const text = c.latin1Slice(0, c.length)
    const base = pos
    pos += c.length
    for (let f = Math.floor(base / 67) * 67; f < pos; f += 67) {
      const start = f + 3
      const end = f + 67
      if (start >= base && end <= pos) sum += JSON.parse(text.slice(start - base, end - base)).id
      else if (end <= pos) {
        sum += JSON.parse(carry + text.slice(Math.max(0, start - base), end - base)).id
        carry = ''
      } else carry += text.slice(Math.max(0, start - base))
    }
  }
  return sum
}

function bare() {
  let sum = 0
  for (let i = 0; i < N; i++) sum += JSON.parse(strings[i]).id
  return sum
}

for (let round = 0; round < 5; round++) {
  let t = process.hrtime.bigint()
  const a = oracle()
  const oracleMs = Number(process.hrtime.bigint() - t) / 1e6
  t = process.hrtime.bigint()
  const b = bare()
  const bareMs = Number(process.hrtime.bigint() - t) / 1e6
  if (a !== b) throw new Error('sums differ')
  console.log(
    `oracle ${oracleMs.toFixed(0)} ms, bare JSON.parse ${bareMs.toFixed(0)} ms, ratio ${(bareMs / oracleMs).toFixed(2)}×`,
  )
}
