/** Short printable forms of bytes and values for failure reasons. */

const MAX_SHOWN = 48

/** Bytes as text when they are printable ASCII, else as hex; long ones are cut. */
export function showBytes(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const head = b.subarray(0, MAX_SHOWN)
  const more = b.length > MAX_SHOWN ? ` … (${b.length} bytes)` : ''
  if (/^[\x20-\x7e\n]*$/.test(head.toString('latin1')))
    return `${JSON.stringify(head.toString('latin1'))}${more}`
  return `<${head.toString('hex').replace(/(..)(?!$)/g, '$1 ')}>${more}`
}

/** A JSON value, cut to a readable length. */
export function showValue(value: unknown): string {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > 120 ? `${text.slice(0, 117)}…` : text
}
