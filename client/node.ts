/**
 * meridian/client/node — the client for Node: `createClient` with the `ws` package's WebSocket and
 * every module (strict, Yjs, Automerge: Node has no bundle to keep small). Kept apart from
 * `meridian/client` so browser bundles never see `ws` or Node built-ins.
 *
 * @example
 * ```ts
 * import { createNodeClient } from 'meridian/client/node'
 * const client = createNodeClient({ urls: ['ws://127.0.0.1:4101'] })
 * ```
 */
import WebSocket from 'ws'
import { DEFAULT_MAX_FRAME_BYTES } from '../core/codec/base-codec.js'
import { automergeSupport } from './automerge.js'
import { createClient, type ClientOptions, type MeridianClient } from './client.js'
import type { ClientModule } from './modules.js'
import { strictSupport } from './strict.js'
import type { WebSocketConstructor } from './websocket.js'
import { yjsSupport } from './yjs.js'

export * from './index.js'
export * from './strict.js'
export { yjsSupport, Y } from './yjs.js'
export { automergeSupport } from './automerge.js'

/** Every module: what `createNodeClient` uses unless `options.use` says otherwise. */
export const ALL_MODULES: readonly ClientModule[] = [strictSupport, yjsSupport, automergeSupport]

/** `ws`'s WebSocket, refusing frames above `maxFrameBytes` before buffering them whole [PR2]. */
export function nodeWebSocket(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): WebSocketConstructor {
  return class NodeWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, { maxPayload: maxFrameBytes })
    }
  }
}

/** `createClient` with `ws` as the WebSocket (unless `options.WebSocket` is given) and every module (unless `options.use` is). */
export function createNodeClient(options: ClientOptions): MeridianClient {
  return createClient({ ...options, WebSocket: options.WebSocket ?? nodeWebSocket(options.maxFrameBytes), use: options.use ?? ALL_MODULES })
}
