import { Peer } from './peer.ts'

/** The demo's binary-port upgrade to mux: a binary-frames header of type 0x30, empty payload. */
export const DEMO_MUX_UPGRADE: Uint8Array = Uint8Array.from([0, 0x30, 0, 0, 0, 0, 0, 0])

/**
 * Finds out whether the server speaks mux from the first byte (its hello arrives unasked) or
 * needs the demo's upgrade frame first (it echoes the 8 bytes). A server that does neither is
 * taken to speak mux from the first byte (a legacy server written from the verb docs).
 */
export async function detectMuxUpgrade(
  host: string,
  port: number,
  timeout: number,
): Promise<Uint8Array> {
  const peer = await Peer.open(host, port, timeout)
  try {
    const first = await peer.until(
      () => (peer.data.length >= 8 ? true : undefined),
      Math.min(300, timeout),
    )
    if ('value' in first) return new Uint8Array(0)
    await peer.write(DEMO_MUX_UPGRADE)
    const echoed = await peer.until(() => (peer.data.length >= 8 ? true : undefined), timeout)
    if ('value' in echoed && Buffer.from(DEMO_MUX_UPGRADE).equals(peer.data.subarray(0, 8)))
      return DEMO_MUX_UPGRADE
    return new Uint8Array(0)
  } finally {
    peer.destroy()
  }
}
