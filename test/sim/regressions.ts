import type { DocType } from '../../core/types.js'
import type { Topology } from './topology.js'

/**
 * Seeds that once broke a rule (or cover a rare path), replayed in every `npm test`.
 * Add one whenever the simulator finds a bug: the seed, the case, and what it found.
 */
export const REGRESSION_SEEDS: readonly { docType: DocType; topology: Topology; seed: number; found: string }[] = []
