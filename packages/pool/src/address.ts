/**
 * The key a client is counted under. IPv4-mapped IPv6 (`::ffff:10.0.0.1`) becomes its IPv4
 * address; an IPv6 address keeps its first `ipv6Prefix` bits (`2001:db8:1:2::/64`), because one
 * customer usually holds a whole /64 and could otherwise rotate through 2^64 addresses. A zone
 * (`fe80::1%eth0`) is dropped. Anything that is not an IP address is returned unchanged
 * (and `undefined`, an address of a socket already gone, becomes `''`).
 */
export function addressKey(address: string | undefined, ipv6Prefix = 64): string {
  if (address === undefined) return ''
  if (!address.includes(':')) return address
  const lower = address.toLowerCase()
  if (lower.startsWith('::ffff:') && lower.includes('.', 7)) return lower.slice(7)
  const groups = parseIpv6(lower)
  if (!groups) return address
  // A mapped address written in hex (::ffff:a00:1) is IPv4 too.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const hi = groups[6] as number
    const lo = groups[7] as number
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
  }
  if (ipv6Prefix >= 128) return formatIpv6(groups)
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, ipv6Prefix - i * 16))
    const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff
    groups[i] = (groups[i] as number) & mask
  }
  return `${formatIpv6(groups)}/${ipv6Prefix}`
}

/** Eight 16-bit groups, or `undefined` if `text` is not an IPv6 address. */
function parseIpv6(text: string): number[] | undefined {
  const zone = text.indexOf('%')
  let body = zone === -1 ? text : text.slice(0, zone)
  // Trailing dotted IPv4 (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two hex groups.
  const lastColon = body.lastIndexOf(':')
  const last = body.slice(lastColon + 1)
  if (last.includes('.')) {
    const bytes = last.split('.').map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : 256))
    if (bytes.length !== 4 || bytes.some((b) => b > 255)) return undefined
    const [a, b, c, d] = bytes as [number, number, number, number]
    body = `${body.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const halves = body.split('::')
  if (halves.length > 2) return undefined
  const parse = (part: string) => (part === '' ? [] : part.split(':'))
  const head = parse(halves[0] as string)
  const rest = halves.length === 2 ? parse(halves[1] as string) : []
  const hex = [...head, ...rest]
  if (!hex.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined
  const explicit = hex.length
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return undefined
  const zeros = new Array<number>(8 - explicit).fill(0)
  return [
    ...head.map((g) => Number.parseInt(g, 16)),
    ...(halves.length === 2 ? zeros : []),
    ...rest.map((g) => Number.parseInt(g, 16)),
  ]
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatIpv6(groups: number[]): string {
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart === -1) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}
