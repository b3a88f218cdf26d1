import threading

from receiver.results import ResultHub


def test_sequence_history_and_replay():
    hub = ResultHub(keep=3, queue_depth=10)
    for i in range(5):
        hub.publish(f"t{i}", lambda seq, i=i: (seq, i))
    assert hub.sequence == 5
    assert hub.get("t0") is None and hub.get("t4") == (5, 4)  # only the last 3 kept
    sub = hub.subscribe(after_sequence=3)
    got = [sub.queue.get_nowait()[0] for _ in range(2)]
    assert got == [4, 5] and sub.queue.empty()


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
