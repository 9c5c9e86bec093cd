/** Where the server reports what happened; console by default, silent in tests. */
export interface Logger {
  info(message: string): void
  warn(message: string): void
  error(message: string, err?: unknown): void
}

/** Lines prefixed with the node id, e.g. `[eu-1] peer us-1 connected`. */
export function consoleLogger(prefix: string): Logger {
  const tag = `[${prefix}]`
  return {
    info: (message) => console.log(tag, message),
    warn: (message) => console.warn(tag, message),
    error: (message, err) => (err === undefined ? console.error(tag, message) : console.error(tag, message, err)),
  }
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} }
