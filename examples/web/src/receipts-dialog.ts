import type { GroupSession } from '@readmark/client-sdk/browser'

/** The fields of `GET /v1/groups/:gid/messages/:seq/receipts` that the dialog shows. */
interface ReceiptsResponse {
  readCount: number
  unreadCount: number
  readers: Array<{ userId: string; readAt: number | null }>
  unread: string[]
}

interface Receipts {
  readers: Array<{ userId: string; readAt: number | null }>
  unread: string[]
  source: string
}

/**
 * The dialog that lists who has read a message, with read times, and who has not.
 *
 * Read times live on the server, and the REST API shows them to the message's sender, the
 * group's owners and admins and the backend. Other members, and any member while offline, see
 * the lists from the local replica without times.
 */
export class ReceiptsDialog {
  readonly #dialog: HTMLDialogElement
  readonly #session: GroupSession
  readonly #token: () => Promise<string>
  readonly #isOnline: () => boolean
  /** The seq the dialog shows, so a late response for another message is dropped. */
  #showing = 0

  constructor(
    dialog: HTMLDialogElement,
    session: GroupSession,
    token: () => Promise<string>,
    isOnline: () => boolean,
  ) {
    this.#dialog = dialog
    this.#session = session
    this.#token = token
    this.#isOnline = isOnline
  }

  /** Opens the dialog for a message and fills it. */
  async open(seq: number): Promise<void> {
    this.#showing = seq
    this.#text('#receipts-title', `Message #${seq}`)
    this.#fill({ readers: [], unread: [], source: 'loading…' })
    if (!this.#dialog.open) this.#dialog.showModal()

    const receipts = await this.#load(seq)
    if (this.#showing === seq) this.#fill(receipts)
  }

  async #load(seq: number): Promise<Receipts> {
    if (this.#isOnline()) {
      try {
        return await this.#fromServer(seq)
      } catch {
        // Not allowed to see read times (403), or the server is unreachable: use the replica.
      }
    }
    const readers = (this.#session.readers(seq) ?? []).map((userId) => ({ userId, readAt: null }))
    return {
      readers,
      unread: this.#session.unreadMembers(seq) ?? [],
      source: this.#isOnline()
        ? 'From this device; the server shows read times only to the sender, owners and admins.'
        : 'From this device while offline; read times come from the server.',
    }
  }

  async #fromServer(seq: number): Promise<Receipts> {
    const group = encodeURIComponent(this.#session.groupId)
    const response = await fetch(`/v1/groups/${group}/messages/${seq}/receipts?limit=1000`, {
      headers: { authorization: `Bearer ${await this.#token()}` },
    })
    if (!response.ok) throw new Error(`receipts request failed with ${response.status}`)

    const body = (await response.json()) as ReceiptsResponse
    return { readers: body.readers, unread: body.unread, source: 'From the server.' }
  }

  #fill(receipts: Receipts): void {
    const readers = this.#dialog.querySelector<HTMLUListElement>('#readers')
    const unread = this.#dialog.querySelector<HTMLUListElement>('#unread-members')
    if (readers === null || unread === null) return

    readers.replaceChildren(
      ...receipts.readers.map((reader) => {
        const item = document.createElement('li')
        item.dataset.user = reader.userId
        item.append(reader.userId)
        if (reader.readAt !== null) {
          const time = document.createElement('time')
          time.dateTime = new Date(reader.readAt).toISOString()
          time.textContent = `read at ${new Date(reader.readAt).toLocaleTimeString()}`
          item.append(time)
        }
        return item
      }),
    )
    unread.replaceChildren(
      ...receipts.unread.map((userId) => {
        const item = document.createElement('li')
        item.dataset.user = userId
        item.textContent = userId
        return item
      }),
    )
    this.#text('#readers-count', `(${receipts.readers.length})`)
    this.#text('#unread-members-count', `(${receipts.unread.length})`)
    this.#text('#receipts-source', receipts.source)
  }

  #text(selector: string, text: string): void {
    const element = this.#dialog.querySelector(selector)
    if (element !== null) element.textContent = text
  }
}
