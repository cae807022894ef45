import { once } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { CarWriter } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { Header } from '../core/block.ts'
import { decodeTxList, type CarObject } from '../ipfs/car.ts'
import { COMMON_HEADERS, HttpError, sendText } from './respond.ts'
import type { HttpRoute } from './types.ts'

/** What the gateway reads: the chain's blockstore, bytes by CID checked against it (ChainStore.getRaw); only blocks not found invalid are there. */
export interface GatewayBlocks {
  getRaw: (cid: CID) => Promise<Uint8Array | undefined>
}

const RAW = 'application/vnd.ipld.raw'
const CAR = 'application/vnd.ipld.car'
/** Our CARs list a header, its list, its transactions, then (dag-scope=all) its parent's: not the links' key order, so `unk`; no object twice. */
const CAR_TYPE = `${CAR}; version=1; order=unk; dups=n`
const IMMUTABLE = 'public, max-age=29030400, immutable'
const SCOPES = ['block', 'entity', 'all'] as const
type Scope = typeof SCOPES[number]

/**
 * The IPFS Trustless Gateway (specs.ipfs.tech/http-gateways/trustless-gateway)
 * over the chain's blockstore, at /ipfs/: GET or HEAD /ipfs/{cid} answers the
 * block's bytes (`Accept: application/vnd.ipld.raw` or `?format=raw`) or a CAR
 * v1 (`application/vnd.ipld.car` or `?format=car`) of `dag-scope=block`,
 * `entity` (a header with its transaction list and transactions) or `all`
 * (the default: that, then its parent's, down to genesis, streamed as it is
 * read). What it serves is verifiable, so it is public: no cookie. Found
 * blocks are immutable; an unknown CID is 404, a malformed one 400.
 */
export function ipfsGatewayRoute (blocks: GatewayBlocks): HttpRoute {
  return {
    prefix: '/ipfs/',
    methods: ['GET', 'HEAD'],
    handler: async (req, res, url) => { await serve(blocks, req, res, url) }
  }
}

async function serve (blocks: GatewayBlocks, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const rest = url.pathname.slice('/ipfs/'.length)
  if (rest === '') throw new HttpError('BAD_REQUEST', 'bad request: no CID (GET /ipfs/{cid})')
  const [text, ...path] = rest.split('/')
  if (path.some(p => p !== '')) throw new HttpError('BAD_REQUEST', 'bad request: paths within a DAG are not served (GET /ipfs/{cid})')
  let cid: CID
  try {
    cid = CID.parse(text)
  } catch {
    throw new HttpError('BAD_REQUEST', `bad request: ${text.slice(0, 100)} is not a CID`)
  }
  const format = formatOf(req, url)
  if (format === undefined) {
    sendText(res, 406, `not acceptable: this gateway answers ${RAW} and ${CAR} only (Accept, or ?format=raw|car)`, { Vary: 'Accept' })
    return
  }
  if (url.searchParams.has('entity-bytes')) throw new HttpError('BAD_REQUEST', 'bad request: entity-bytes is not supported')
  const scope = url.searchParams.get('dag-scope') ?? 'all'
  if (!(SCOPES as readonly string[]).includes(scope)) throw new HttpError('BAD_REQUEST', `bad request: dag-scope must be one of ${SCOPES.join(', ')}`)
  // Only sha2-256 names a block here; any other hash cannot be ours.
  const root = cid.multihash.code === 0x12 ? await blocks.getRaw(cid) : undefined
  if (root === undefined) throw new HttpError('NOT_FOUND', `not found: ${cid.toString()} is no block of this chain`)
  const headers = { ...COMMON_HEADERS, 'Cache-Control': IMMUTABLE, Vary: 'Accept', 'X-Ipfs-Path': `/ipfs/${cid.toString()}`, 'X-Ipfs-Roots': cid.toString() }
  if (format === 'raw') {
    res.writeHead(200, { ...headers, 'Content-Type': RAW, 'Content-Length': String(root.length), ETag: `"${cid.toString()}.raw"`, 'Content-Disposition': `attachment; filename="${cid.toString()}.bin"` })
    res.end(req.method === 'HEAD' ? undefined : root)
    return
  }
  res.writeHead(200, { ...headers, 'Content-Type': CAR_TYPE, ETag: `"${cid.toString()}.car.${scope}"`, 'Content-Disposition': `attachment; filename="${cid.toString()}.car"` })
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  await streamCar(res, cid, objectsOf(blocks, { cid, bytes: root }, scope as Scope))
}

/** raw or car, from ?format= (which wins), else the first of them Accept names. */
function formatOf (req: IncomingMessage, url: URL): 'raw' | 'car' | undefined {
  const param = url.searchParams.get('format')
  if (param !== null) {
    if (param === 'raw' || param === 'car') return param
    throw new HttpError('BAD_REQUEST', `bad request: format=${param.slice(0, 40)}: this gateway answers raw and car`)
  }
  for (const type of (req.headers.accept ?? '').split(',').map(t => t.split(';')[0].trim().toLowerCase())) {
    if (type === RAW) return 'raw'
    if (type === CAR) return 'car'
  }
  return undefined
}

/**
 * The objects of a CAR of `scope` from `root`: the root alone (block); for a
 * header, it with its list and transactions (entity), and then each parent's
 * the same way (all). A root that is no header is its own entity.
 */
async function * objectsOf (blocks: GatewayBlocks, root: CarObject, scope: Scope): AsyncGenerator<CarObject> {
  let object: CarObject | undefined = root
  while (object !== undefined) {
    yield object
    const header: Header | undefined = scope === 'block' ? undefined : headerOf(object)
    if (header === undefined) return
    const list = await need(blocks, header.data.txs)
    yield { cid: header.data.txs, bytes: list }
    for (const tx of decodeTxList(list)) yield { cid: tx, bytes: await need(blocks, tx) }
    const prev: CID | null = header.data.prev
    object = scope === 'all' && prev !== null ? { cid: prev, bytes: await need(blocks, prev) } : undefined
  }
}

function headerOf ({ cid, bytes }: CarObject): Header | undefined {
  if (cid.code !== dagCbor.code || bytes[0] !== 0xa7) return undefined
  try {
    return Header.fromBytes(bytes)
  } catch {
    return undefined
  }
}

/** An object a stored block links: missing is damage (the chain stores a block whole), reported as the store reports it. */
async function need (blocks: GatewayBlocks, cid: CID): Promise<Uint8Array> {
  const bytes = await blocks.getRaw(cid)
  if (bytes === undefined) throw new Error(`${cid.toString()}, linked by a stored block, is not stored`)
  return bytes
}

/** Writes a CAR of `objects` to the response as they are read, never ahead of what the client takes; stops when the client goes. */
async function streamCar (res: ServerResponse, root: CID, objects: AsyncIterable<CarObject>): Promise<void> {
  const { writer, out } = CarWriter.create([root])
  let gone = false
  res.once('close', () => { gone = true })
  const produce = (async () => {
    try {
      for await (const object of objects) {
        if (gone) break
        await writer.put(object)
      }
    } finally {
      await writer.close()
    }
  })()
  try {
    for await (const chunk of out) {
      // Once the client is gone, what is left is drained unsent, so the reading side stops at its next object.
      if (gone) continue
      if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')])
    }
  } finally {
    // A failure after the headers went can only cut the answer short: the client sees a truncated CAR.
    await produce.then(() => { res.end() }, err => {
      res.destroy()
      throw err
    })
  }
}
