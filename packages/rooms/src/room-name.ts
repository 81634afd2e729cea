import { ProtocolError } from '@verb-tcp/core'
import { RoomsErrorCode } from './errors.ts'

// C0 controls, DEL and C1 controls: invisible in logs and ambiguous in line-based tools.
function hasControl(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i)
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true
  }
  return false
}

/** The reason `name` cannot be a room, or `undefined` when it can. */
export function checkRoomName(
  name: unknown,
  maxBytes: number,
  reservedPrefix: string,
): ProtocolError | undefined {
  if (typeof name !== 'string') {
    return new ProtocolError(
      RoomsErrorCode.ROOM_NAME,
      `a room name must be a string, got ${typeof name}`,
    )
  }
  if (name.length === 0)
    return new ProtocolError(RoomsErrorCode.ROOM_NAME, 'a room name cannot be empty')
  // A UTF-16 length over the cap is at least that many bytes, so this avoids measuring huge names.
  const bytes = name.length > maxBytes ? name.length : Buffer.byteLength(name)
  if (bytes > maxBytes) {
    return new ProtocolError(
      RoomsErrorCode.ROOM_NAME,
      `a room name can have at most ${maxBytes} bytes, got at least ${bytes}`,
      { limit: maxBytes, declaredLength: bytes },
    )
  }
  if (hasControl(name)) {
    return new ProtocolError(
      RoomsErrorCode.ROOM_NAME,
      'a room name cannot contain control characters',
    )
  }
  if (reservedPrefix !== '' && name.startsWith(reservedPrefix)) {
    return new ProtocolError(
      RoomsErrorCode.ROOM_RESERVED,
      `room names starting with ${JSON.stringify(reservedPrefix)} are reserved`,
    )
  }
  return undefined
}
