"""Where decoded results go: a bounded history, one bounded queue per subscriber, waiters by id.

* Every result gets the next sequence number.
* The last ``keep`` results stay in memory: a subscriber that reconnects with
  ``after_sequence`` gets what it missed (as far as kept), and a client that asks for
  its transmission's result after it was produced still gets it.
* Each subscriber has its own queue of ``queue_depth``: a slow subscriber never slows
  decoding or the others. When its queue overflows it is dropped and told so
  (its stream ends with RESOURCE_EXHAUSTED naming the sequence to resume after).
"""

from __future__ import annotations

import collections
import itertools
import queue
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Subscriber(Generic[T]):
    def __init__(self, sid: int, depth: int) -> None:
        self.id = sid
        self.queue: queue.Queue[T] = queue.Queue(maxsize=depth)
        self.overflowed = False
        self.last_sequence = 0  # of the last result handed to this subscriber


class ResultHub(Generic[T]):
    def __init__(self, keep: int = 256, queue_depth: int = 64) -> None:
        self.keep = keep
        self.queue_depth = queue_depth
        self._lock = threading.Condition()
        self._history: collections.OrderedDict[str, tuple[int, T]] = collections.OrderedDict()
        self._sequence = 0
        self._subscribers: dict[int, Subscriber[T]] = {}
        self._ids = itertools.count(1)
        self.dropped_subscribers = 0

    @property
    def sequence(self) -> int:
        return self._sequence

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, transmission_id: str, make) -> T:
        """`make(sequence)` builds the result for the next sequence number; it is stored and fanned out."""
        with self._lock:
            self._sequence += 1
            result = make(self._sequence)
            self._history[transmission_id] = (self._sequence, result)
            while len(self._history) > self.keep:
                self._history.popitem(last=False)
            for sub in list(self._subscribers.values()):
                self._offer(sub, self._sequence, result)
            self._lock.notify_all()
            return result

    def _offer(self, sub: Subscriber[T], seq: int, result: T) -> None:
        if sub.overflowed:
            return
        try:
            sub.queue.put_nowait((seq, result))
        except queue.Full:
            sub.overflowed = True
            self.dropped_subscribers += 1

    def subscribe(self, after_sequence: int = 0) -> Subscriber[T]:
        """A new subscriber; with `after_sequence` > 0 the kept results after it are queued first."""
        with self._lock:
            sub: Subscriber[T] = Subscriber(next(self._ids), self.queue_depth)
            sub.last_sequence = after_sequence
            if after_sequence > 0:
                for seq, result in self._history.values():
                    if seq > after_sequence:
                        self._offer(sub, seq, result)
            self._subscribers[sub.id] = sub
            return sub

    def unsubscribe(self, sub: Subscriber[T]) -> None:
        with self._lock:
            self._subscribers.pop(sub.id, None)

    def get(self, transmission_id: str) -> T | None:
        with self._lock:
            hit = self._history.get(transmission_id)
            return hit[1] if hit else None

    def wait(self, transmission_id: str, timeout: float | None) -> T | None:
        """The result of `transmission_id`, waiting up to `timeout` seconds for it."""
        with self._lock:
            self._lock.wait_for(lambda: transmission_id in self._history, timeout=timeout)
            hit = self._history.get(transmission_id)
            return hit[1] if hit else None
