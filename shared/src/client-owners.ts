import * as Y from 'yjs'
import { parseReceiptKey, SERVER_DEVICE } from './ids.ts'
import { ROOT_RECEIPTS } from './layout.ts'

/** Owner of a Yjs client id: a user id, or SERVER_OWNER for ids the server writes with. */
export const SERVER_OWNER = ''

/**
 * Owners of the Yjs client ids in one document, so that no user can write with
 * another's id. Built from the document once, then kept up to date with record().
 */
export class ClientOwners {
  readonly #owners = new Map<number, string>()

  /** Builds the map from the first item of every client in the document. O(clients). */
  static fromDoc(doc: Y.Doc): ClientOwners {
    const owners = new ClientOwners()
    const receipts = doc.getMap(ROOT_RECEIPTS)
    for (const [client, structs] of doc.store.clients) {
      const owner = ownerOfStructs(structs, receipts)
      if (owner !== undefined) owners.record(client, owner)
    }
    return owners
  }

  get(client: number): string | undefined {
    return this.#owners.get(client)
  }

  record(client: number, owner: string): void {
    this.#owners.set(client, owner)
  }

  get size(): number {
    return this.#owners.size
  }
}

function ownerOfStructs(
  structs: ReadonlyArray<Y.Item | Y.GC>,
  receipts: Y.Map<unknown>,
): string | undefined {
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue
    if (struct.parent !== receipts || struct.parentSub === null) return SERVER_OWNER

    const key = parseReceiptKey(struct.parentSub)
    if (key === null || key.deviceId === SERVER_DEVICE) return SERVER_OWNER
    return key.userId
  }
  return undefined
}
