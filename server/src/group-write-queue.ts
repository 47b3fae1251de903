/**
 * The write queue of each group. A write starts once the previous write of the same group has
 * settled, whether it resolved or rejected, and writes to different groups run concurrently.
 */
export class GroupWriteQueue {
  /** Tail of the write queue of each group, so that seqs and idempotency checks never interleave. */
  readonly #queues = new Map<string, Promise<unknown>>()

  /** Runs `write` once the group's earlier writes have settled, and returns its result. */
  run<T>(groupId: string, write: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(groupId) ?? Promise.resolve()
    const result = previous.then(write, write)
    const tail = result.catch(() => undefined)
    this.#queues.set(groupId, tail)
    void tail.then(() => {
      if (this.#queues.get(groupId) === tail) this.#queues.delete(groupId)
    })
    return result
  }
}
