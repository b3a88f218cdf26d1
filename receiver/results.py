"""Where decoded results go: a bounded history, one bounded queue per subscriber, waiters by id.

* Every result gets the next sequence number.
* The last ``keep`` results stay in memory: a subscriber that reconnects with
  ``after_sequence`` gets what it missed (as far as kept), and a client that asks for
  its transmission's result after it was produced still gets it.
* Each subscriber has its own queue of ``queue_depth``: a slow subscriber never slows
  decoding or the others. When its queue overflows it is dropped and told so
  (its stream ends with RESOURCE_EXHAUSTED naming the sequence to resume after).
* Sequence numbers belong to an *epoch*. Without a store, every start is a new epoch
  (numbering restarts at 1): a subscriber resuming with an older epoch gets every kept
  result, all of which are new to it, so nothing is replayed twice and nothing produced
  since the restart is missed. With a :class:`ResultStore` (a directory), the kept results,
  the epoch and the numbering survive restarts.
"""

from __future__ import annotations

import collections
import itertools
import os
import queue
import threading
import uuid
from pathlib import Path
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Subscriber(Generic[T]):
    """Replayed results wait in `backlog` (as many as the hub keeps); live ones in the bounded `queue`."""

    def __init__(self, sid: int, depth: int) -> None:
        self.id = sid
        self.queue: queue.Queue[T] = queue.Queue(maxsize=depth)
        self.backlog: collections.deque = collections.deque()
        self.overflowed = False
        self.last_sequence = 0  # of the last result handed to this subscriber

    def next(self, timeout: float):
        """The next (sequence, result): the replay first, then live results; queue.Empty after `timeout`."""
        if self.backlog:
            return self.backlog.popleft()
        return self.queue.get(timeout=timeout)

    def empty(self) -> bool:
        return not self.backlog and self.queue.empty()


class ResultStore(Generic[T]):
    """Kept results on disk: one file per result (``<sequence>.<transmission id>.bin``) and the epoch.

    Writes are atomic (temporary file + rename), so a crash leaves whole files only;
    files that do not parse are skipped on load. Serialisation is the caller's (the
    receiver stores its protobuf messages): nothing is unpickled.
    """

    def __init__(self, root: str | Path, keep: int, dump: Callable[[T], bytes], parse: Callable[[bytes], T]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep, self.dump, self.parse = keep, dump, parse
        epoch_file = self.root / "epoch"
        if not epoch_file.exists():
            self._write(epoch_file, uuid.uuid4().hex[:16].encode())
        self.epoch = epoch_file.read_text().strip()

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _files(self) -> list[tuple[int, str, Path]]:
        out = []
        for p in self.root.glob("*.bin"):
            seq, _, tid = p.stem.partition(".")
            if seq.isdigit() and tid:
                out.append((int(seq), tid, p))
        return sorted(out)

    def _path(self, seq: int, transmission_id: str) -> Path:
        return self.root / f"{seq:012d}.{transmission_id}.bin"

    def load(self) -> list[tuple[int, str, T]]:
        """Kept results, oldest first; files older than the newest `keep` are removed."""
        files = self._files()
        for _, _, p in files[: max(0, len(files) - self.keep)]:
            p.unlink(missing_ok=True)
        out = []
        for seq, tid, p in files[-self.keep:]:
            try:
                out.append((seq, tid, self.parse(p.read_bytes())))
            except Exception:  # a damaged file loses one result, not the store
                continue
        return out

    def save(self, seq: int, transmission_id: str, result: T) -> None:
        self._write(self._path(seq, transmission_id), self.dump(result))

    def discard(self, seq: int, transmission_id: str) -> None:
        """The hub no longer keeps this result."""
        self._path(seq, transmission_id).unlink(missing_ok=True)


class StoreFailed(OSError):
    """A result was published (subscribers and GetResult have it) but could not be written to the store."""


class ResultHub(Generic[T]):
    def __init__(self, keep: int = 256, queue_depth: int = 64, store: ResultStore[T] | None = None) -> None:
        self.keep = keep
        self.queue_depth = queue_depth
        self.store = store
        self.epoch = store.epoch if store is not None else uuid.uuid4().hex[:16]
        self._lock = threading.Condition()
        self._history: collections.OrderedDict[str, tuple[int, T]] = collections.OrderedDict()
        self._sequence = 0
        self._subscribers: dict[int, Subscriber[T]] = {}
        self._ids = itertools.count(1)
        self.dropped_subscribers = 0
        if store is not None:
            for seq, tid, result in store.load():
                self._history[tid] = (seq, result)
                self._sequence = max(self._sequence, seq)

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
            failed: OSError | None = None
            if self.store is not None:
                try:
                    self.store.save(self._sequence, transmission_id, result)
                except OSError as exc:  # the result still reaches every reader; the caller hears of the disk
                    failed = exc
            replaced = self._history.get(transmission_id)
            self._history[transmission_id] = (self._sequence, result)
            gone = [(replaced[0], transmission_id)] if replaced is not None else []
            while len(self._history) > self.keep:
                tid, (seq, _) = self._history.popitem(last=False)
                gone.append((seq, tid))
            if self.store is not None:  # the disk holds what the hub holds, no directory scans per result
                for seq, tid in gone:
                    self.store.discard(seq, tid)
            for sub in list(self._subscribers.values()):
                self._offer(sub, self._sequence, result)
            self._lock.notify_all()
        if failed is not None:
            raise StoreFailed(f"result of {transmission_id} was published but not written to "
                              f"{self.store.root}: {failed}") from failed
        return result

    def _offer(self, sub: Subscriber[T], seq: int, result: T) -> None:
        if sub.overflowed:
            return
        try:
            sub.queue.put_nowait((seq, result))
        except queue.Full:
            sub.overflowed = True
            self.dropped_subscribers += 1

    def subscribe(self, after_sequence: int = 0, epoch: str = "") -> Subscriber[T]:
        """A new subscriber; with `after_sequence` > 0 the kept results after it come first (its backlog).

        `epoch` is the epoch `after_sequence` was counted in; another epoch than this hub's
        means this receiver restarted without its history, so every kept result is replayed.
        """
        with self._lock:
            sub: Subscriber[T] = Subscriber(next(self._ids), self.queue_depth)
            if epoch and epoch != self.epoch:
                after_sequence = 0
                replay = True
            else:
                replay = after_sequence > 0
            sub.last_sequence = after_sequence
            if replay:  # not through the live queue: every kept result reaches a reader that keeps up
                sub.backlog.extend((seq, result) for seq, result in self._history.values() if seq > after_sequence)
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
