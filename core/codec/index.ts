/** The binary wire codec (docs/design.md §5): messages, changes, typed errors and close codes. */
export * from './messages.js'
export * from './errors.js'
export * from './close-codes.js'
export { authoredChange, encodeChange, decodeChange, peekChangeId, writeChange, readChange } from './change.js'
export { MAX_JSON_DEPTH } from './json-value.js'
export {
  encodeMessage,
  decodeMessage,
  peekMessageType,
  peekHandshakeVersion,
  readVersionVector,
  writeVersionVector,
  DEFAULT_MAX_FRAME_BYTES,
} from './codec.js'
export type { DecodeOptions } from './codec.js'
