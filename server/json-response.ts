import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { toJson } from './json.js'

const JSON_TYPE = 'application/json; charset=utf-8'

/** A JSON body (through `toJson`) with its status and any extra headers: every REST answer. */
export function jsonResponse(c: Context, body: unknown, status: ContentfulStatusCode = 200, headers: Record<string, string> = {}): Response {
  return c.body(toJson(body), status, { 'content-type': JSON_TYPE, ...headers })
}
