/**
 * Strict mode (docs/design.md §4), the pure layer: a Raft-like replicated log per cluster with write
 * concerns, preconditions, elections with fencing, reads with tokens and snapshot catch-up.
 */
export * from './types.js'
export * from './messages.js'
export * from './state.js'
export * from './request-keys.js'
export * from './log.js'
export * from './elections.js'
export * from './write-tracker.js'
export * from './reads.js'
export * from './strict-node.js'
export * from './requests.js'
export * from './positions.js'
export * from './op-values.js'
export * from './failover-controls.js'
export * from './cascade.js'
