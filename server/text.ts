/** Half of a surrogate pair: the codec refuses to encode it (it would arrive as U+FFFD). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * `text` with every half of a surrogate pair replaced by U+FFFD: explanations sent to the other side
 * often quote what it sent (or a token's claims), cut to a length, and must always encode.
 */
export function encodableText(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD')
}
