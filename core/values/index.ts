export * from './storable-value.js'
