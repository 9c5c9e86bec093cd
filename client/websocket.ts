/**
 * The slice of the WebSocket API the client uses. The browser's `WebSocket` and the `ws` package's
 * both fit it, so the client never imports a WebSocket implementation itself: it is injected
 * (`ClientOptions.WebSocket`, default `globalThis.WebSocket`; `meridian/client/node` passes `ws`).
 */

// Event handlers are checked bivariantly, so constructors whose handlers take richer event types
// (DOM `MessageEvent`, `ws`'s `WebSocket.MessageEvent`) still fit without a cast.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack']

export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  onopen: Handler<unknown> | null
  onmessage: Handler<{ readonly data: unknown }> | null
  onclose: Handler<{ readonly code: number; readonly reason: string }> | null
  onerror: Handler<unknown> | null
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/** `WebSocket.OPEN`; the numeric ready states are fixed by the WHATWG spec. */
export const WS_OPEN = 1

/** Close code of an orderly close requested by the client. */
export const WS_NORMAL_CLOSURE = 1000
