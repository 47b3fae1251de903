import * as Y from 'yjs'
import type { ClientOwners } from './client-owners.ts'
import { META_HEAD, ROOT_META, ROOT_RECEIPTS } from './layout.ts'
import { checkContent, checkDeletedItem, checkPlacement } from './receipt-rules.ts'
import { Rejection, type RejectReason } from './rejection.ts'
import {
  findFresh,
  idText,
  type Placement,
  placementInDoc,
  placementOfDocItem,
  readBlockCount,
} from './update-structs.ts'

/**
 * The server's check of one client update against the rules of the group document: a user may
 * only raise its own device receipts. The check decodes the update and looks each struct up in
 * the live document, so it costs O(structs · log structs in the document). It never applies the
 * update anywhere, and only reads the document.
 */

export type Verdict =
  | {
      ok: true
      /** Yjs client ids this update uses for the first time, to record with ClientOwners. */
      newClients: number[]
      /** Receipt keys the update writes new values to. */
      keys: string[]
      /** False when the document already has all of the update, so applying it changes nothing. */
      changes: boolean
    }
  | { ok: false; reason: RejectReason; detail: string }

/**
 * Decides whether the user may apply the update to the document. Accepts exactly the updates
 * that only add integer receipt values 0 ≤ v ≤ head under the user's own `<userId>/<deviceId>`
 * keys, never below the value stored under that key. Such an update may delete only values of
 * the user's own keys that it overwrites itself. Parts of the update the document already has are
 * ignored, so a stock client's resent state passes.
 */
export function validateUpdate(
  doc: Y.Doc,
  owners: ClientOwners,
  userId: string,
  update: Uint8Array,
): Verdict {
  try {
    return checkUpdate(doc, owners, userId, update)
  } catch (error) {
    if (error instanceof Rejection)
      return { ok: false, reason: error.reason, detail: error.message }
    return {
      ok: false,
      reason: 'malformed',
      detail: `update could not be decoded: ${String(error)}`,
    }
  }
}

/** The structs of an update that the document does not have yet, collected by collectFresh. */
interface FreshStructs {
  /** Fresh items by client, in clock order. */
  fresh: Map<number, Y.Item[]>
  /** All fresh items, in the order of the update. */
  freshItems: Y.Item[]
  /** Client ids without a recorded owner that the update writes with. */
  newClients: number[]
  /** The clock after the last fresh struct, for each client that has one. */
  nextClocks: Map<number, number>
  /** Whether the update has a fresh garbage-collected struct. */
  freshGc: boolean
}

/** The structs and delete set of a decoded update. Yjs 13.6 does not export these type names. */
type DecodedUpdate = ReturnType<typeof Y.decodeUpdate>

/**
 * Lookup of the placement of a fresh item. The depth is the number of origins followed so far, and
 * a depth beyond the number of fresh items means an origin cycle.
 */
type ResolvePlacement = (item: Y.Item, depth: number) => Placement

/** Runs the steps of the check in order and throws a Rejection at the first broken rule. */
function checkUpdate(
  doc: Y.Doc,
  owners: ClientOwners,
  userId: string,
  update: Uint8Array,
): Verdict {
  const { structs, ds } = Y.decodeUpdate(update)

  // Y.applyUpdate keeps only the last block of a client that an update lists twice, even an empty
  // one, while decodeUpdate returns the structs of every block. Only an update that lists each
  // client once, with at least one struct, is applied exactly as checked here.
  const blocks = readBlockCount(update)
  const clients = new Set(structs.map((struct) => struct.id.client))
  if (clients.size !== blocks) {
    throw new Rejection(
      'malformed',
      `update has ${blocks} client blocks for ${clients.size} clients; each client must have one block with structs`,
    )
  }
  const receipts = doc.getMap<number>(ROOT_RECEIPTS)
  const headValue = doc.getMap(ROOT_META).get(META_HEAD)
  const head = typeof headValue === 'number' ? headValue : 0

  const collected = collectFresh(doc, owners, userId, structs)
  checkReferences(doc.store, structs, collected.nextClocks)

  const resolve = createPlacementResolver(doc, collected)
  const { keys, successors } = checkFreshItems(doc, userId, receipts, head, collected, resolve)
  const deletesStored = checkDeletions(doc, userId, ds, collected.fresh, resolve, successors)
  checkDeletedFreshItems(collected.freshItems, userId, resolve, successors)

  const { freshItems, freshGc, newClients } = collected
  const changes = freshItems.length > 0 || freshGc || deletesStored
  return { ok: true, newClients, keys: [...keys], changes }
}

/**
 * Collects the structs of the update that the document does not have yet. Checks that each
 * continues its client's clock without a gap and comes from a client id the user may write with.
 */
function collectFresh(
  doc: Y.Doc,
  owners: ClientOwners,
  userId: string,
  structs: DecodedUpdate['structs'],
): FreshStructs {
  const store = doc.store

  // Structs of this update that the document does not have yet, by client, in clock order.
  const fresh = new Map<number, Y.Item[]>()
  const freshItems: Y.Item[] = []
  const newClients: number[] = []
  const nextClocks = new Map<number, number>()
  let freshGc = false
  for (const struct of structs) {
    const client = struct.id.client
    const known = nextClocks.get(client) ?? Y.getState(store, client)
    checkStructShape(doc, struct)
    // A replica with pending structs resends them after a Skip. A Skip over clocks the server has
    // hides nothing, so it is ignored like any other known part.
    if (struct.id.clock + struct.length <= known) continue
    if (struct instanceof Y.Skip)
      throw new Rejection('gap', `update skips clocks of client ${client}`)
    if (struct.id.clock > known) {
      throw new Rejection(
        'gap',
        `client ${client} continues at clock ${struct.id.clock}, expected ${known}`,
      )
    }
    nextClocks.set(client, struct.id.clock + struct.length)

    const owner = checkClientOwner(doc, owners, userId, client)
    if (owner === undefined && !newClients.includes(client)) newClients.push(client)
    if (struct instanceof Y.GC) {
      if (owner === undefined) {
        throw new Rejection(
          'invalid-structure',
          `garbage-collected struct from new client ${client}`,
        )
      }
      freshGc = true
      continue
    }

    const item = struct as Y.Item
    let items = fresh.get(client)
    if (items === undefined) {
      items = []
      fresh.set(client, items)
    }
    items.push(item)
    freshItems.push(item)
  }
  return { fresh, freshItems, newClients, nextClocks, freshGc }
}

/** Checks what every struct of the update must satisfy, also the ones the document already has. */
function checkStructShape(doc: Y.Doc, struct: DecodedUpdate['structs'][number]): void {
  // Y.applyUpdate integrates an empty item at the next clock, so it would look known here while
  // it takes over a map key and deletes the key's value.
  if (struct.length === 0) {
    throw new Rejection('malformed', `update has an empty struct at ${idText(struct.id)}`)
  }
  // Y.applyUpdate creates every root type an update names, even in parts the document already
  // has, so a resend with made-up root names would add types to the document.
  if (
    struct instanceof Y.Item &&
    typeof struct.parent === 'string' &&
    !doc.share.has(struct.parent)
  ) {
    throw new Rejection(
      'server-root',
      `update names root type "${struct.parent}", which the document does not have`,
    )
  }
}

/**
 * Checks that the user may write fresh structs with the client id, and returns its recorded owner,
 * or undefined when the id is new to the document.
 */
function checkClientOwner(
  doc: Y.Doc,
  owners: ClientOwners,
  userId: string,
  client: number,
): string | undefined {
  const owner = owners.get(client)
  if (owner !== undefined && owner !== userId) {
    throw new Rejection('foreign-client', `client id ${client} belongs to another writer`)
  }
  if (client === doc.clientID) {
    throw new Rejection('foreign-client', `client id ${client} is the server's own`)
  }
  if (owner === undefined && Y.getState(doc.store, client) > 0) {
    throw new Rejection(
      'foreign-client',
      `client id ${client} already wrote to the document and has no recorded owner`,
    )
  }
  return owner
}

/** Checks that every item refers only to structs the update or the document has before it. */
function checkReferences(
  store: Y.Doc['store'],
  structs: DecodedUpdate['structs'],
  nextClocks: ReadonlyMap<number, number>,
): void {
  // Y.applyUpdate looks up the origin, right origin and parent of every item, also of parts the
  // document already has, and keeps the rest of the update pending when one is missing. It does
  // not check that an item builds only on earlier clocks of its own client, so that is checked here.
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue
    const parent = struct.parent instanceof Y.ID ? struct.parent : null
    for (const reference of [struct.origin, struct.rightOrigin, parent]) {
      if (reference === null) continue
      const available =
        reference.client === struct.id.client
          ? struct.id.clock
          : (nextClocks.get(reference.client) ?? Y.getState(store, reference.client))
      if (reference.clock >= available) {
        throw new Rejection(
          'gap',
          `item ${idText(struct.id)} refers to ${idText(reference)}, which neither the update nor the server has before it`,
        )
      }
    }
  }
}

/**
 * Creates the cached lookup of where each fresh item goes. An item without a parent goes where
 * its origin or right origin is, whether that is a fresh item or one of the document.
 */
function createPlacementResolver(
  doc: Y.Doc,
  { fresh, freshItems }: FreshStructs,
): ResolvePlacement {
  const placements = new Map<Y.Item, Placement>()
  const resolve = (item: Y.Item, depth: number): Placement => {
    const cached = placements.get(item)
    if (cached !== undefined) return cached
    if (depth > freshItems.length + 1) throw new Rejection('invalid-structure', 'origin cycle')

    let placement: Placement
    if (typeof item.parent === 'string') {
      placement = { root: item.parent, key: item.parentSub }
    } else if (item.parent !== null) {
      throw new Rejection('nested-type', 'update writes into a nested type')
    } else {
      const reference = item.origin ?? item.rightOrigin
      if (reference === null)
        throw new Rejection('invalid-structure', 'item without parent or origin')
      const freshOrigin = findFresh(fresh, reference)
      placement =
        freshOrigin === undefined ? placementInDoc(doc, reference) : resolve(freshOrigin, depth + 1)
    }
    placements.set(item, placement)
    return placement
  }
  return resolve
}

/**
 * Resolves where each fresh item goes and checks its key and content. Returns the keys the update
 * writes values to, and the origins of fresh items as `client:clock` text. A map write names the
 * value it overwrites as its origin.
 */
function checkFreshItems(
  doc: Y.Doc,
  userId: string,
  receipts: Y.Map<number>,
  head: number,
  { fresh, freshItems }: FreshStructs,
  resolve: ResolvePlacement,
): { keys: Set<string>; successors: Set<string> } {
  const store = doc.store

  const keys = new Set<string>()
  const successors = new Set<string>()
  for (const item of freshItems) {
    const placement = resolve(item, 0)
    const key = checkPlacement(placement, userId)

    // Of an item that starts before the server's state, Y.applyUpdate integrates only the rest,
    // linked behind the last clock the server has but under the item's own key. Both must be the
    // same key, or the item would delete that clock's value.
    const stored = Y.getState(store, item.id.client)
    if (item.id.clock < stored) {
      const previous = placementInDoc(doc, Y.createID(item.id.client, stored - 1))
      if (previous.root !== placement.root || previous.key !== placement.key) {
        throw new Rejection(
          'invalid-structure',
          `item ${idText(item.id)} continues a value of "${previous.key}" under "${key}"`,
        )
      }
    }
    if (item.rightOrigin !== null) {
      throw new Rejection(
        'invalid-structure',
        `item ${idText(item.id)} has a right origin; map writes have none`,
      )
    }
    if (item.origin !== null) successors.add(idText(item.origin))

    checkContent(item, key, head, receipts, fresh)
    if (!(item.content instanceof Y.ContentDeleted)) keys.add(key)
  }
  return { keys, successors }
}

/**
 * Checks the update's delete set. Returns true when it deletes a struct of the document that is
 * not deleted yet.
 */
function checkDeletions(
  doc: Y.Doc,
  userId: string,
  ds: DecodedUpdate['ds'],
  fresh: Map<number, Y.Item[]>,
  resolve: ResolvePlacement,
  successors: ReadonlySet<string>,
): boolean {
  const store = doc.store

  // Deletions: only the user's own receipt values, and only ones this update writes over.
  let changes = false
  for (const [client, deletions] of ds.clients) {
    const known = Y.getState(store, client)
    for (const deletion of deletions) {
      // Y.applyUpdate throws on an empty deletion of clocks the document does not have yet.
      if (deletion.len === 0) {
        throw new Rejection('malformed', `update deletes 0 structs of client ${client}`)
      }
      const end = deletion.clock + deletion.len
      for (let clock = deletion.clock; clock < end; ) {
        const freshItem = findFresh(fresh, Y.createID(client, clock))
        if (freshItem !== undefined) {
          checkDeletedItem(freshItem, resolve(freshItem, 0), userId, successors)
          clock = freshItem.id.clock + freshItem.length
          continue
        }
        if (clock >= known) {
          throw new Rejection(
            'gap',
            `update deletes client ${client} clock ${clock}, which the server does not have`,
          )
        }

        const structs = store.clients.get(client) as Array<Y.Item | Y.GC>
        const struct = structs[Y.findIndexSS(structs, clock)] as Y.Item | Y.GC
        if (!struct.deleted) {
          changes = true
          const item = struct as Y.Item
          checkDeletedItem(item, placementOfDocItem(doc, item), userId, successors)
        }
        clock = struct.id.clock + struct.length
      }
    }
  }
  return changes
}

function checkDeletedFreshItems(
  freshItems: readonly Y.Item[],
  userId: string,
  resolve: ResolvePlacement,
  successors: ReadonlySet<string>,
): void {
  // A fresh item that ends up deleted must also be written over, or its key would lose its value.
  for (const item of freshItems) {
    if (item.content instanceof Y.ContentDeleted) {
      checkDeletedItem(item, resolve(item, 0), userId, successors)
    }
  }
}
