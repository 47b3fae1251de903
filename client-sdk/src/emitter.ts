/** A listener of one event; it gets the event's payload. */
export type Listener<T> = (payload: T) => void

/**
 * A typed event emitter. A listener that throws does not stop the others or the SDK's own state
 * change: its error is rethrown from a microtask, where the platform reports it as uncaught.
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>()

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    let listeners = this.#listeners.get(event)
    if (listeners === undefined) {
      listeners = new Set()
      this.#listeners.set(event, listeners)
    }
    listeners.add(listener as Listener<never>)
    return () => this.off(event, listener)
  }

  /** Adds a listener that is removed after its first call. */
  once<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    const remove = this.on(event, (payload) => {
      remove()
      listener(payload)
    })
    return remove
  }

  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never>)
  }

  /** Tells whether the event has a listener, so that costly payloads are built only when needed. */
  has(event: keyof Events): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0
  }

  /** Calls every listener of the event with the payload. */
  emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    const listeners = this.#listeners.get(event)
    if (listeners === undefined) return

    for (const listener of [...listeners]) {
      try {
        ;(listener as Listener<Events[E]>)(payload)
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear()
  }
}
