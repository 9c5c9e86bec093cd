export * from './change-log.js'
export * from './mesh-node.js'
export * from './resync-budget.js'
export * from './refusal.js'
