// The contract suite (./contract.ts) imports vitest and is deliberately not re-exported here, so
// bundles of core never pull in test code; it has its own subpath, `meridian/core/storage/contract`.
export * from './adapter.js'
export * from './keys.js'
export * from './memory.js'
