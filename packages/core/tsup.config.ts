import { packageConfig } from '../../tsup.package.ts'

export default packageConfig([
  'src/index.ts',
  'src/testing.ts',
  'src/codec/index.ts',
  'src/validate.ts',
])
