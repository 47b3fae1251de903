import type { GroupSession, MessageWithCounts } from '@readmark/client-sdk/browser'

/**
 * The message list of one group session. It renders the replica's window with live counts, and
 * marks messages read as they scroll fully into view while the tab is visible. Marking seq s read
 * covers every message up to s, because a watermark marks a prefix of the group.
 */
export class MessageList {
  readonly #container: HTMLElement
  readonly #session: GroupSession
  readonly #onCountsClick: (seq: number) => void
  readonly #elements = new Map<number, HTMLElement>()
  readonly #observer: IntersectionObserver
  #scrolledToFirstUnread = false

  constructor(container: HTMLElement, session: GroupSession, onCountsClick: (seq: number) => void) {
    this.#container = container
    this.#session = session
    this.#onCountsClick = onCountsClick
    this.#observer = new IntersectionObserver((entries) => this.#onVisible(entries), {
      root: container,
      threshold: 1,
    })
    document.addEventListener('visibilitychange', () => this.#markVisibleRead())
  }

  /** Adds new messages and updates every message's counts from the replica. */
  render(): void {
    const stickToBottom = this.#atBottom()
    const watermark = this.#session.watermark()

    for (const message of this.#session.messages()) {
      let element = this.#elements.get(message.seq)
      if (element === undefined) {
        element = this.#create(message)
        this.#elements.set(message.seq, element)
        this.#insert(element, message.seq)
        this.#observer.observe(element)
      }
      this.#update(element, message, watermark)
    }

    if (!this.#scrolledToFirstUnread && this.#elements.size > 0) {
      this.#scrolledToFirstUnread = true
      this.#scrollToFirstUnread(watermark)
    } else if (stickToBottom) {
      this.#container.scrollTop = this.#container.scrollHeight
    }
  }

  #create(message: MessageWithCounts): HTMLElement {
    const element = document.createElement('article')
    element.className = 'message'
    element.dataset.seq = String(message.seq)
    element.dataset.sender = message.sender
    if (message.sender === this.#session.userId) element.classList.add('own')

    const meta = document.createElement('div')
    meta.className = 'meta'
    const sender = document.createElement('b')
    sender.textContent = message.sender
    const time = document.createElement('time')
    time.dateTime = new Date(message.at).toISOString()
    time.textContent = new Date(message.at).toLocaleTimeString()
    meta.append(sender, ' · ', time, ` · #${message.seq}`)

    const body = document.createElement('p')
    body.className = 'body'
    body.textContent = message.deleted === true ? '(deleted)' : (message.body ?? '')

    const counts = document.createElement('button')
    counts.type = 'button'
    counts.className = 'counts'
    counts.title = 'Show who has read this message'
    counts.addEventListener('click', () => this.#onCountsClick(message.seq))

    element.append(meta, body, counts)
    return element
  }

  #update(element: HTMLElement, message: MessageWithCounts, watermark: number): void {
    const counts = element.querySelector<HTMLButtonElement>('.counts')
    if (counts !== null) {
      counts.textContent = `read ${message.readCount} / unread ${message.unreadCount}`
      counts.hidden = message.deleted === true
    }
    const unread = message.seq > watermark && message.sender !== this.#session.userId
    element.classList.toggle('unread', unread)
  }

  /** Inserts in seq order; new messages normally go last, so the search starts at the end. */
  #insert(element: HTMLElement, seq: number): void {
    let next: Element | null = null
    for (
      let child = this.#container.lastElementChild;
      child !== null;
      child = child.previousElementSibling
    ) {
      if (Number((child as HTMLElement).dataset.seq) < seq) break
      next = child
    }
    this.#container.insertBefore(element, next)
  }

  #scrollToFirstUnread(watermark: number): void {
    const firstUnread = [...this.#elements.entries()]
      .filter(([seq]) => seq > watermark)
      .sort(([a], [b]) => a - b)[0]
    if (firstUnread === undefined) {
      this.#container.scrollTop = this.#container.scrollHeight
    } else {
      firstUnread[1].scrollIntoView({ block: 'start' })
    }
  }

  #atBottom(): boolean {
    const container = this.#container
    return container.scrollHeight - container.scrollTop - container.clientHeight < 8
  }

  #onVisible(entries: IntersectionObserverEntry[]): void {
    if (document.visibilityState !== 'visible') return

    let highest = 0
    for (const entry of entries) {
      if (!entry.isIntersecting) continue
      highest = Math.max(highest, Number((entry.target as HTMLElement).dataset.seq))
    }
    if (highest > this.#session.watermark()) this.#session.markRead(highest)
  }

  /** Marks the fully visible messages read, for a tab that has just become visible. */
  #markVisibleRead(): void {
    if (document.visibilityState !== 'visible') return

    const view = this.#container.getBoundingClientRect()
    let highest = 0
    for (const [seq, element] of this.#elements) {
      const box = element.getBoundingClientRect()
      if (box.top >= view.top && box.bottom <= view.bottom) highest = Math.max(highest, seq)
    }
    if (highest > this.#session.watermark()) this.#session.markRead(highest)
  }
}
