// The browser + Node client (connection with reconnect and region failover, outbox, IndexedDB storage)
// arrives with the next issue. Until then `meridian/client` exposes core, so the browser bundle already
// carries everything a client will need from it.
export * from '../core/index.js'
