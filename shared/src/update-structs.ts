import * as Y from 'yjs'
import { Rejection } from './rejection.ts'

/**
 * Helpers for the structs that Y.decodeUpdate returns. They find where an item sits in the
 * document, look up the update's own items by id and read the block count of a V1 update. They
 * only read the document, and throw a Rejection when the update refers to an item they cannot
 * place or ends inside its block count.
 */

/** Position of an item of the update: its root type name and map key. */
export interface Placement {
  root: string
  key: string | null
}

/**
 * Finds where the document's item with this id sits. Rejects an id the server does not have and
 * one whose struct was garbage-collected.
 */
export function placementInDoc(doc: Y.Doc, id: Y.ID): Placement {
  if (id.clock >= Y.getState(doc.store, id.client)) {
    throw new Rejection('gap', `update refers to ${idText(id)}, which the server does not have`)
  }
  const struct = Y.getItem(doc.store, id)
  if (!(struct instanceof Y.Item)) {
    throw new Rejection('invalid-structure', `update refers to garbage-collected ${idText(id)}`)
  }
  return placementOfDocItem(doc, struct)
}

/**
 * Finds the root type name and map key of an item in the document. An item that is not under a
 * root type gets the root name '', and an item inside a nested type is rejected.
 */
export function placementOfDocItem(doc: Y.Doc, item: Y.Item): Placement {
  const parent = item.parent
  if (!(parent instanceof Y.AbstractType)) return { root: '', key: null }
  if (parent._item !== null) throw new Rejection('nested-type', 'update refers to a nested type')

  for (const [name, type] of doc.share) {
    if (type === parent) return { root: name, key: item.parentSub }
  }
  return { root: '', key: null }
}

/**
 * Finds the item whose clock range contains the id, by binary search in `fresh`, which lists the
 * update's new items by client in clock order.
 */
export function findFresh(fresh: Map<number, Y.Item[]>, id: Y.ID): Y.Item | undefined {
  const items = fresh.get(id.client)
  if (items === undefined) return undefined

  let low = 0
  let high = items.length - 1
  while (low <= high) {
    const middle = (low + high) >>> 1
    const item = items[middle] as Y.Item
    if (id.clock < item.id.clock) high = middle - 1
    else if (id.clock >= item.id.clock + item.length) low = middle + 1
    else return item
  }
  return undefined
}

/** Reads the number of client blocks, the variable-length integer that starts a V1 update. */
export function readBlockCount(update: Uint8Array): number {
  let count = 0
  let factor = 1
  for (const byte of update) {
    count += (byte & 0x7f) * factor
    if (byte < 0x80) return count
    factor *= 0x80
  }
  throw new Rejection('malformed', 'update ends inside its block count')
}

/** Formats an id as `client:clock`, for messages and as a set key. */
export function idText(id: Y.ID): string {
  return `${id.client}:${id.clock}`
}
