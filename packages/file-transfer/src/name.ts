import { MAX_NAME_BYTES, PARTIAL_DIR } from './constants.ts'

// C0 and C1 control characters, DEL, and the Unicode line/paragraph separators and bidi
// overrides that make a name display as something else.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u
const SEPARATORS = /[/\\]/
// With the `u` flag a surrogate range matches only unpaired halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u
const ONLY_DOTS_AND_SPACES = /^[.\s]*$/u
// Device names Windows reserves in every folder, with any extension and in any case: a file
// published as `nul.txt` cannot be opened or copied on Windows (a share of the upload folder,
// a backup, a client that downloads it).
const WINDOWS_DEVICE =
  /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])\s*(\..*)?$/iu

/**
 * Why `name` cannot be a file name, or `undefined` when it can. A name is a basename, never a
 * path: not empty, at most 255 UTF-8 bytes, no `/`, `\`, NUL or control characters, not `.`,
 * `..` or only dots and spaces, not ending in a dot or a space (Windows would strip them), not
 * a Windows device name (`CON`, `nul.txt`, `Com1.log`), and none of that after Unicode
 * compatibility normalisation either (`．．` is `..` under NFKC). The partial area's own name is
 * reserved.
 */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'the name must be a string'
  if (name.length === 0) return 'the name is empty'
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `the name is over ${MAX_NAME_BYTES} bytes`
  if (LONE_SURROGATE.test(name)) return 'the name has a lone surrogate'
  for (const form of [name, name.normalize('NFKC')]) {
    if (SEPARATORS.test(form)) return 'the name contains a path separator'
    if (CONTROL.test(form)) return 'the name contains a control character'
    if (ONLY_DOTS_AND_SPACES.test(form)) return 'the name is only dots or spaces'
    if (/[.\s]$/u.test(form)) return 'the name ends in a dot or a space'
    if (WINDOWS_DEVICE.test(form)) return 'the name is a device name on Windows'
  }
  if (name === PARTIAL_DIR) return 'the name is reserved'
  return undefined
}

/** True for a valid file name (see `nameProblem`). */
export function isValidName(name: unknown): name is string {
  return nameProblem(name) === undefined
}
