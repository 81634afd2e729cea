import type { MemberInfo, RoomMember } from '@verb-tcp/rooms'

/**
 * A member as it travels between nodes and sits in the registry: JSON with its node, metadata
 * and join time, encoded once when it joins. Metadata that JSON cannot carry (a cycle, a BigInt)
 * travels as `null` rather than failing the join.
 */
export function encodeMemberInfo(nodeId: string, member: MemberInfo): Buffer {
  let json: string
  try {
    json = JSON.stringify({ n: nodeId, m: member.metadata ?? null, t: member.joinedAt })
  } catch {
    json = JSON.stringify({ n: nodeId, m: null, t: member.joinedAt })
  }
  return Buffer.from(json, 'utf8')
}

/** The member a node described, or `undefined` when the bytes are not such a description. */
export function decodeMemberInfo(
  connectionId: string,
  bytes: Uint8Array | string,
): RoomMember | undefined {
  let value: unknown
  try {
    value = JSON.parse(
      typeof bytes === 'string'
        ? bytes
        : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
    )
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { n, m, t } = value as { n?: unknown; m?: unknown; t?: unknown }
  if (typeof n !== 'string' || n.length === 0 || typeof t !== 'number') return undefined
  return { connectionId, nodeId: n, metadata: m ?? null, joinedAt: t }
}
