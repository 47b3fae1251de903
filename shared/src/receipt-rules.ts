import * as Y from 'yjs'
import { ID_PATTERN, parseReceiptKey, SERVER_DEVICE } from './ids.ts'
import { ROOT_RECEIPTS } from './layout.ts'
import { Rejection } from './rejection.ts'
import { findFresh, idText, type Placement } from './update-structs.ts'

/**
 * The rules on what one user may write into a group document: receipt keys of its own, integer
 * values that never go down or beyond head, and deletions only of values it writes over.
 */

export function checkPlacement(placement: Placement, userId: string): string {
  if (placement.root !== ROOT_RECEIPTS) {
    throw new Rejection('server-root', `update writes to server-only root "${placement.root}"`)
  }
  if (placement.key === null) {
    throw new Rejection('invalid-structure', 'update inserts into receipts as a list, not a map')
  }

  const parsed = parseReceiptKey(placement.key)
  if (parsed === null || parsed.deviceId === SERVER_DEVICE || !ID_PATTERN.test(parsed.deviceId)) {
    throw new Rejection('invalid-key', `receipt key "${placement.key}" is not <userId>/<deviceId>`)
  }
  if (parsed.userId !== userId) {
    throw new Rejection(
      'foreign-key',
      `update writes receipt key "${placement.key}" of another user`,
    )
  }
  return placement.key
}

export function checkContent(
  item: Y.Item,
  key: string,
  head: number,
  receipts: Y.Map<number>,
  fresh: Map<number, Y.Item[]>,
): void {
  const content = item.content
  if (content instanceof Y.ContentDeleted) return
  if (content instanceof Y.ContentType || content instanceof Y.ContentDoc) {
    throw new Rejection('nested-type', `update creates a nested type under "${key}"`)
  }
  if (!(content instanceof Y.ContentAny)) {
    throw new Rejection(
      'invalid-value',
      `receipt "${key}" holds ${content.constructor.name}, not a number`,
    )
  }

  const stored = receipts.get(key)
  let floor = typeof stored === 'number' ? stored : 0
  const originItem = item.origin === null ? undefined : findFresh(fresh, item.origin)
  if (originItem !== undefined && originItem.content instanceof Y.ContentAny) {
    const previous = originItem.content.arr.at(-1)
    if (typeof previous === 'number' && previous > floor) floor = previous
  }

  for (const value of content.arr) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new Rejection(
        'invalid-value',
        `receipt "${key}" value ${JSON.stringify(value)} is not a non-negative integer`,
      )
    }
    if (value > head) {
      throw new Rejection('beyond-head', `receipt "${key}" value ${value} is beyond head ${head}`)
    }
    if (value < floor) {
      throw new Rejection('lower-value', `receipt "${key}" value ${value} is lower than ${floor}`)
    }
    floor = value
  }
}

export function checkDeletedItem(
  item: Y.Item,
  placement: Placement,
  userId: string,
  successors: ReadonlySet<string>,
): void {
  if (placement.root !== ROOT_RECEIPTS || placement.key === null) {
    throw new Rejection(
      'forbidden-delete',
      `update deletes from server-only root "${placement.root}"`,
    )
  }

  const parsed = parseReceiptKey(placement.key)
  if (parsed === null || parsed.userId !== userId || parsed.deviceId === SERVER_DEVICE) {
    throw new Rejection(
      'forbidden-delete',
      `update deletes receipt "${placement.key}", which is not its own`,
    )
  }

  const lastId = Y.createID(item.id.client, item.id.clock + item.length - 1)
  if (!successors.has(idText(lastId))) {
    throw new Rejection(
      'forbidden-delete',
      `update deletes receipt "${placement.key}" without writing a new value`,
    )
  }
}
