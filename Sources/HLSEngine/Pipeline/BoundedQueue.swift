import Foundation

/// A blocking FIFO with a fixed capacity, between the decode thread and one
/// rendition thread. A full queue blocks the producer: that back-pressure is what
/// keeps memory flat whatever the input's length.
final class BoundedQueue<Element>: @unchecked Sendable {
    // @unchecked: every access to `items` and `closed` holds `condition`.
    private let condition = NSCondition()
    private var items: [Element] = []
    private var head = 0
    private var closed = false
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Appends, waiting while full. Returns false (dropping `element`) once closed.
    @discardableResult
    func push(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !closed && items.count - head >= capacity { condition.wait() }
        guard !closed else { return false }
        items.append(element)
        condition.broadcast()
        return true
    }

    /// The oldest element, waiting while empty; nil once closed and empty.
    func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while !closed && items.count == head { condition.wait() }
        guard items.count > head else { return nil }
        let element = items[head]
        head += 1
        if head > 32 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return element
    }

    /// Wakes every waiter; later pushes fail and pops drain what is left.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Closes and drops what is queued (on cancellation).
    func closeAndDiscard() {
        condition.lock()
        closed = true
        items.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
    }
}
