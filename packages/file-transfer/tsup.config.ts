import { packageConfig } from '../../tsup.package.ts'

const base = packageConfig()

// The receiver's engine methods that its per-connection objects call are marked @internal and
// kept out of the published declarations.
export default { ...base, dts: { compilerOptions: { stripInternal: true } } }
