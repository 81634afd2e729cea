import { packageConfig } from '../../tsup.package.ts'

const base = packageConfig(['src/index.ts', 'src/wire.ts'])

// Members marked @internal (the session's hooks into its streams) stay out of the published types.
export default { ...base, dts: { compilerOptions: { stripInternal: true } } }
