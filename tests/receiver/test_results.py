import json
import threading

from receiver.results import ResultHub, ResultStore


def test_sequence_history_and_replay():
    hub = ResultHub(keep=3, queue_depth=10)
    for i in range(5):
        hub.publish(f"t{i}", lambda seq, i=i: (seq, i))
    assert hub.sequence == 5
    assert hub.get("t0") is None and hub.get("t4") == (5, 4)  # only the last 3 kept
    sub = hub.subscribe(after_sequence=3)
    got = [sub.next(timeout=0)[0] for _ in range(2)]
    assert got == [4, 5] and sub.empty()


def test_slow_subscriber_is_dropped_not_blocking():
    hub = ResultHub(keep=10, queue_depth=2)
    slow, fast = hub.subscribe(), hub.subscribe()
    for i in range(4):
        hub.publish(f"t{i}", lambda seq: seq)
        fast.queue.get_nowait()
    assert slow.overflowed and not fast.overflowed and hub.dropped_subscribers == 1


def test_wait_for_a_result_published_later():
    hub = ResultHub()
    threading.Timer(0.05, lambda: hub.publish("late", lambda seq: "done")).start()
    assert hub.wait("late", timeout=5) == "done"
    assert hub.wait("never", timeout=0.01) is None


def _drain(sub):
    out = []
    while not sub.empty():
        out.append(sub.next(timeout=0)[0])
    return out


def test_replay_of_every_kept_result_does_not_overflow_the_live_queue():
    hub = ResultHub(keep=256, queue_depth=64)
    for i in range(200):
        hub.publish(f"t{i}", lambda seq: seq)
    sub = hub.subscribe(after_sequence=1, epoch="another")  # a restart: all 200 kept results are new to it
    hub.publish("live", lambda seq: seq)
    assert _drain(sub) == list(range(1, 202)) and not sub.overflowed


def test_restart_without_store_is_a_new_epoch_and_replays_all_it_kept():
    before = ResultHub(keep=10)
    for i in range(3):
        before.publish(f"a{i}", lambda seq: seq)
    after = ResultHub(keep=10)  # the receiver restarted: history gone, numbering from 1
    assert after.epoch != before.epoch
    after.publish("b0", lambda seq: seq)
    after.publish("b1", lambda seq: seq)
    # the subscriber saw up to sequence 3 of the old epoch: both new results are new to it
    assert _drain(after.subscribe(after_sequence=3, epoch=before.epoch)) == [1, 2]
    # same epoch: only what follows after_sequence
    assert _drain(after.subscribe(after_sequence=1, epoch=after.epoch)) == [2]


def test_store_keeps_results_epoch_and_numbering_across_restarts(tmp_path):
    def store():
        return ResultStore(tmp_path, keep=3, dump=lambda r: json.dumps(r).encode(), parse=lambda b: json.loads(b))

    first = ResultHub(keep=3, store=store())
    for i in range(5):
        first.publish(f"t.{i}", lambda seq, i=i: {"seq": seq, "i": i})
    assert len(list(tmp_path.glob("*.bin"))) == 3  # bounded on disk too
    (tmp_path / "000000000099.junk.bin").write_bytes(b"\xff not json")  # a damaged file is skipped
    second = ResultHub(keep=3, store=store())
    assert second.epoch == first.epoch and second.sequence >= 5
    assert second.get("t.4") == {"seq": 5, "i": 4} and second.get("t.1") is None
    assert _drain(second.subscribe(after_sequence=3, epoch=first.epoch)) == [4, 5]
    (tmp_path / "000000000099.junk.bin").unlink()
    third = ResultHub(keep=3, store=store())
    third.publish("t.5", lambda seq: {"seq": seq})
    assert third.sequence == 6  # numbering goes on, no sequence is reused
