/** `meridian/client/idb`: the client store on IndexedDB (client/idb-store.ts, docs/client.md). */
export { ClientStoreError, openIdbClientStore, type ClientStoreErrorCode, type IdbClientStore, type IdbClientStoreOptions } from './idb-store.js'
