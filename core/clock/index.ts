export * from './hlc.js'
export * from './version-vector.js'
