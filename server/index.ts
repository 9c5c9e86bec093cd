/**
 * meridian/server — the regional server (docs/design.md §7, docs/server.md): WebSocket sessions for
 * clients (/sync) and peers (/peer), REST, health, status, metrics, dashboard, and the CLI.
 *
 * @example
 * ```ts
 * import { createServer, loadConfigFile } from 'meridian/server'
 * const server = await createServer(await loadConfigFile('eu-1.json'))
 * console.log(server.httpUrl)
 * ```
 */
export { createServer, type ConflictHook, type CreateServerOptions, type MeridianServer } from './server.js'
export type { ConflictResolution, StoredConflict } from '../core/crdt/conflict-record.js'
export type { ConflictPage } from './conflict-store.js'
export {
  CONFIG_DEFAULTS,
  ConfigError,
  loadConfigFile,
  parseConfig,
  type CollectionConfig,
  type PeerConfig,
  type ReconnectConfig,
  type ServerConfig,
  type ServerConfigInput,
  type StorageKind,
} from './config.js'
export {
  RegionNode,
  WriteError,
  vectorToken,
  type AckLevel,
  type CrdtRestConcern,
  type CrdtRestOp,
  type DocumentResult,
  type Lag,
  type WriteErrorCode,
  type WriteResult,
} from './region-node.js'
export type { PeerLinkState, PeerLinkSnapshot } from './peer-links.js'
export type { PeerStatus, ServerStatus } from './status.js'
export { consoleLogger, silentLogger, type Logger } from './logger.js'
export { runCli } from './cli-main.js'
