export * from './change-log.js'
export * from './mesh-node.js'
