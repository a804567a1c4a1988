import Foundation

/// A blocking FIFO between the decode thread and one rendition thread, bounded in
/// elements and in bytes. A full queue blocks the producer: that back-pressure is what
/// keeps memory flat whatever the input's length, and the byte bound keeps it flat
/// whatever the frame size (at least one element always fits, so nothing deadlocks).
final class BoundedQueue<Element>: @unchecked Sendable {
    // @unchecked: every access to `items`, `bytes` and `closed` holds `condition`.
    private let condition = NSCondition()
    private var items: [(element: Element, bytes: Int)] = []
    private var head = 0
    private var closed = false
    private var bytes = 0
    let capacity: Int
    let byteCapacity: Int

    init(capacity: Int, byteCapacity: Int = .max) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.byteCapacity = max(1, byteCapacity)
    }

    /// Appends, waiting while full. Returns false (dropping `element`) once closed.
    /// - Parameter cost: the bytes `element` holds (a decoded frame's buffers).
    @discardableResult
    func push(_ element: Element, cost: Int = 0) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !closed && items.count > head
                && (items.count - head >= capacity || bytes + cost > byteCapacity) { condition.wait() }
        guard !closed else { return false }
        items.append((element, cost))
        bytes += cost
        condition.broadcast()
        return true
    }

    /// Appends at once, full or not: for a few small elements whose producer must never
    /// wait on this consumer (the video's cut times, one per segment, for a rendition whose
    /// other producer may fill it). Returns false once closed.
    @discardableResult
    func pushWithoutWaiting(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        items.append((element, 0))
        condition.broadcast()
        return true
    }

    /// The oldest element, waiting while empty; nil once closed and empty.
    func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while !closed && items.count == head { condition.wait() }
        guard items.count > head else { return nil }
        let (element, cost) = items[head]
        bytes -= cost
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
        bytes = 0
        condition.broadcast()
        condition.unlock()
    }
}
