import type { ServerResponse } from 'node:http'
import { CointsError } from '../core/errors.ts'

/** Headers every answer carries: nothing served is to be sniffed into another type or framed by another site. */
export const COMMON_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'DENY' } as const

/** A one-line plain-text answer (errors, refusals). */
export function sendText (res: ServerResponse, status: number, line: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = `${line}\n`
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-store', ...headers })
  res.end(body)
}

/** A JSON answer; bigints as decimal strings. */
export function sendJson (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value, (_key, v: unknown) => typeof v === 'bigint' ? v.toString() : v)
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-cache', ...headers })
  res.end(body)
}

/** HTTP statuses of the refusals handlers throw. */
const STATUS = { BAD_REQUEST: 400, NOT_FOUND: 404, CONFLICT: 409, TOO_MANY: 429, UNAVAILABLE: 503 } as const
export type HttpErrorCode = keyof typeof STATUS

/** A refusal a handler throws: the server answers its status with its reason as the one line, and logs nothing. */
export class HttpError extends CointsError<HttpErrorCode> {
  get status (): number { return STATUS[this.code] }
}
