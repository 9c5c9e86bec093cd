// The status bar: where the client is connected, and how many writes have not reached a region.

const CONNECTION_TEXT = {
  connecting: 'connecting',
  connected: 'connected',
  reconnecting: 'reconnecting',
  offline: 'offline',
}

/** Shows `client.syncState` in `badge` (connection) and `counter` (unsynced writes); follows it. */
export function showSyncState(client, badge, counter) {
  const render = (state) => {
    let text = CONNECTION_TEXT[state.connection]
    if (state.connection === 'connected') text += ` · ${state.nodeId}`
    if (state.connection === 'reconnecting' && state.retryInMs !== null) text += ` · retry in ${(state.retryInMs / 1000).toFixed(1)} s`
    if (state.connection === 'offline' && state.error) text += ` · ${state.error.code}`
    badge.textContent = text
    badge.className = `badge ${state.connection}`
    badge.dataset.connection = state.connection
    badge.title = state.connection === 'connected' ? `connected to ${state.nodeId} (region ${state.region})` : 'connection to the region'
    counter.textContent = state.unsynced === 0 ? 'all synced' : `${state.unsynced} not synced`
    counter.dataset.unsynced = String(state.unsynced)
    counter.className = `badge ${state.unsynced === 0 ? 'replicated' : 'local'}`
    counter.title = `${state.unsynced} writes not yet durable at a region; ${state.unreplicated} not yet in every region`
  }
  render(client.syncState)
  return client.onSyncState(render)
}
