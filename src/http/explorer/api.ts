import { decodeAddress } from '../../core/address.ts'
import { formatAmount } from '../../core/amount.ts'
import { parseCid } from '../../core/cbor.ts'
import { CointsError } from '../../core/errors.ts'
import { HttpError, sendJson } from '../respond.ts'
import type { HttpRoute } from '../types.ts'
import type { MempoolView } from './mempool-view.ts'
import type { ExplorerSources } from './types.ts'
import { blockView, MAX_BLOCKS_LISTED, peersView, statusView, txView, type BlockSummaries } from './views.ts'

/** The explorer's JSON prefix: read-only, each answer a bounded amount of work. */
export const API_PREFIX = '/api/'

/** What a search names, for the page to open. */
export type SearchHit = { kind: 'block', id: string } | { kind: 'tx', id: string } | { kind: 'address', address: string }

function intParam (url: URL, name: string, fallback: number, max: number): number {
  const text = url.searchParams.get(name)
  if (text === null) return fallback
  const n = Number(text)
  if (!/^\d{1,10}$/.test(text) || n > max) throw new HttpError('BAD_REQUEST', `${name} must be a whole number up to ${max}`)
  return n
}

/**
 * A search for a height, a block id, a transaction id or an address. Ids are
 * CIDs: the block index is asked first, then the transactions stored; an
 * address needs the address index only for its page, not to be recognised.
 */
export async function search (s: ExplorerSources, query: string): Promise<SearchHit> {
  const q = query.trim()
  if (q === '') throw new HttpError('BAD_REQUEST', 'search for a height, a block id, a transaction id or an address')
  if (q.length > 200) throw new HttpError('BAD_REQUEST', 'search text too long: at most 200 characters')
  const { chain } = s
  if (/^\d{1,10}$/.test(q)) {
    const entry = chain.getEntryAt(Number(q))
    if (entry === undefined) throw new HttpError('NOT_FOUND', `no block at height ${q} (the tip is at ${chain.height})`)
    return { kind: 'block', id: entry.idString }
  }
  let cid
  try {
    cid = parseCid(q)
  } catch {
    cid = undefined
  }
  if (cid !== undefined) {
    if (chain.blockInfo(cid.toString()) !== undefined) return { kind: 'block', id: cid.toString() }
    if (await chain.getTx(cid) !== undefined) return { kind: 'tx', id: cid.toString() }
    throw new HttpError('NOT_FOUND', `no block or transaction ${cid.toString()} here`)
  }
  try {
    decodeAddress(chain.params.addressPrefix, q)
    return { kind: 'address', address: q.toLowerCase() }
  } catch {
    throw new HttpError('NOT_FOUND', `nothing matches ${JSON.stringify(q.slice(0, 80))}: give a height, a block id, a transaction id or a ${chain.params.addressPrefix}1… address`)
  }
}

async function addressView (s: ExplorerSources, text: string, url: URL): Promise<unknown> {
  let hash: Uint8Array
  try {
    hash = decodeAddress(s.chain.params.addressPrefix, text)
  } catch (err) {
    throw new HttpError('BAD_REQUEST', err instanceof CointsError ? err.reason : String(err))
  }
  if (s.addrIndex === undefined) throw new HttpError('CONFLICT', 'the address index is off: start the node with --addrindex to see addresses')
  const before = url.searchParams.get('before') ?? undefined
  if (before !== undefined && !/^[0-9a-f]{72}$/.test(before)) throw new HttpError('BAD_REQUEST', 'before must be the next cursor of a previous page')
  const history = await s.addrIndex.history(hash, { before, limit: intParam(url, 'limit', 25, 50) })
  return {
    ...history,
    received: formatAmount(history.received),
    sent: formatAmount(history.sent),
    balance: formatAmount(history.balance),
    entries: history.entries.map(e => ({ ...e, received: formatAmount(e.received), sent: formatAmount(e.sent) }))
  }
}

/** GET /api/…: status, blocks, block/{id|height}, tx/{id}, mempool, peers, address/{addr}, search?q=. */
export function apiRoute (s: ExplorerSources, summaries: BlockSummaries, mempool: MempoolView): HttpRoute {
  return {
    prefix: API_PREFIX,
    methods: ['GET'],
    handler: async (_req, res, url) => {
      const [name, arg, ...rest] = url.pathname.slice(API_PREFIX.length).split('/')
      const one = (): string => {
        if (arg === undefined || arg === '' || rest.length > 0) throw new HttpError('NOT_FOUND', `not found: ${url.pathname}`)
        try {
          return decodeURIComponent(arg)
        } catch {
          throw new HttpError('BAD_REQUEST', `bad percent-encoding in ${url.pathname.slice(0, 80)}`)
        }
      }
      const none = (): void => { if (arg !== undefined) throw new HttpError('NOT_FOUND', `not found: ${url.pathname}`) }
      let body: unknown
      switch (name) {
        case 'status': none(); body = await statusView(s, summaries); break
        case 'blocks': none(); body = await summaries.list(intParam(url, 'from', s.chain.height, 1e9), intParam(url, 'count', 10, MAX_BLOCKS_LISTED)); break
        case 'block': {
          const id = one()
          const at = /^\d{1,10}$/.test(id) ? s.chain.getEntryAt(Number(id))?.idString : id
          if (at === undefined) throw new HttpError('NOT_FOUND', `no block at height ${id} (the tip is at ${s.chain.height})`)
          body = await blockView(s, summaries, at, intParam(url, 'page', 0, 1e6))
          break
        }
        case 'tx': body = await txView(s, one()); break
        case 'mempool': none(); body = mempool.view(); break
        case 'peers': none(); body = peersView(s); break
        case 'address': body = await addressView(s, one(), url); break
        case 'search': none(); body = await search(s, url.searchParams.get('q') ?? ''); break
        default: throw new HttpError('NOT_FOUND', `not found: ${url.pathname}`)
      }
      sendJson(res, 200, body)
    }
  }
}
