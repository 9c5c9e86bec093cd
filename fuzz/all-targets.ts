import { meshTarget } from './mesh-target.js'
import { strictClusterTarget } from './strict-cluster-target.js'
import { ALL_TARGETS as CORE_TARGETS, type FuzzTarget } from './targets.js'
import { valuesTarget } from './values-target.js'

/**
 * Every fuzz target of `npm run fuzz` and its scaled-down run in `npm test` (docs/fuzzing.md). The targets
 * in their own files import the shared generator and mutator from targets.ts, so the list lives here
 * rather than there (no import cycle).
 */
export const ALL_TARGETS: readonly FuzzTarget[] = [...CORE_TARGETS, strictClusterTarget, meshTarget, valuesTarget]
