import { readFile } from 'node:fs/promises'
import { COMMON_HEADERS, HttpError } from '../respond.ts'
import type { HttpRoute } from '../types.ts'

/** The explorer's page and assets, served from the package: plain files, no build step; edit them and reload. */
export const PUBLIC_DIR = new URL('./public/', import.meta.url)

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon'
}

/** The page's own paths: each answered with index.html, whose script draws the page the path names. */
const PAGES = /^\/(?:|block\/[^/]+|tx\/[^/]+|address\/[^/]+|mempool|peers|search)$/
/** Asset names: one folder, plain names, so no path leaves it. */
const ASSET = /^\/assets\/([a-z0-9][a-z0-9-]*\.([a-z]+))$/

/** Only the page may run scripts and load what it holds, and from nowhere else. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

async function sendFile (res: Parameters<HttpRoute['handler']>[1], name: string, type: string): Promise<void> {
  let body: Buffer
  try {
    body = await readFile(new URL(name, PUBLIC_DIR))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HttpError('NOT_FOUND', `not found: /assets/${name}`)
    throw err
  }
  // Revalidated on each load: a person who edits a file sees it at the next reload.
  res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': String(body.length), 'Cache-Control': 'no-cache', 'Content-Security-Policy': CSP, 'Referrer-Policy': 'no-referrer' })
  res.end(body)
}

/** GET /: the explorer's page for its paths, /assets/… for its files; anything else is 404. */
export function staticRoute (): HttpRoute {
  return {
    prefix: '/',
    methods: ['GET'],
    handler: async (_req, res, url) => {
      if (PAGES.test(url.pathname)) return await sendFile(res, 'index.html', TYPES.html)
      const asset = ASSET.exec(url.pathname)
      const type = asset === null ? undefined : TYPES[asset[2]]
      if (asset === null || type === undefined) throw new HttpError('NOT_FOUND', `not found: ${url.pathname}`)
      await sendFile(res, asset[1], type)
    }
  }
}
