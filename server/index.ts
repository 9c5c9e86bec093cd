// The regional server (ws transport, HTTP surfaces, file storage, peer links, CLI) arrives with the next
// issue. This flag lets callers and tests tell the placeholder from the real thing.
export const SERVER_AVAILABLE = false
