/**
 * meridian/core — the pure, deterministic heart of Meridian (docs/design.md §2): clocks, wire codec,
 * document types, crdt anti-entropy and the storage contract. No I/O, no wall clock, no randomness:
 * those are passed in, so the same code runs in the seeded simulator and in production.
 */
export * from './types.js'
export * from './clock/index.js'
export * from './codec/index.js'
export * from './crdt/index.js'
export * from './mesh/index.js'
export * from './storage/index.js'
export * from './values/index.js'
