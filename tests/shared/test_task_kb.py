import pytest

from shared.task_kb import NegotiationFailed, TaskKB, TaskNotUnderstood, check_agreement
from shared.tasks import RECONSTRUCTION, SEGMENTATION


@pytest.mark.parametrize("request_text,task", [
    ("please reconstruct this image", RECONSTRUCTION),
    ("send the photo", RECONSTRUCTION),
    ("I want the picture back", RECONSTRUCTION),
    ("segment this image", SEGMENTATION),
    ("label the objects in the scene", SEGMENTATION),
    ("classify each pixel", SEGMENTATION),
])
def test_maps_requests_to_tasks(task_kb, request_text, task):
    m = task_kb.match(request_text)
    assert m.task == task
    assert m.score >= task_kb.threshold
    assert set(m.scores) == {RECONSTRUCTION, SEGMENTATION}
    assert m.instruction in task_kb.instructions[task]


@pytest.mark.parametrize("request_text", ["what's the weather", "tell me a joke", "order a pizza"])
def test_refuses_unrelated_requests_naming_known_tasks(task_kb, request_text):
    with pytest.raises(TaskNotUnderstood, match="reconstruction, segmentation"):
        task_kb.match(request_text)


@pytest.mark.parametrize("request_text", ["", "   "])
def test_refuses_empty(task_kb, request_text):
    with pytest.raises(TaskNotUnderstood, match="empty"):
        task_kb.match(request_text)


def test_cosine_is_eq4(task_kb):
    sims = task_kb.similarities("image segmentation")
    assert sims[SEGMENTATION][0] == pytest.approx(1.0, abs=1e-4)  # identical text -> cos = 1
    assert -1.0 <= sims[RECONSTRUCTION][0] < 1.0


def test_fingerprint_and_agreement(task_kb):
    other = TaskKB(instructions={**task_kb.instructions, "segmentation": ("image segmentation",)},
                   encoder=task_kb._encoder)
    assert other.fingerprint != task_kb.fingerprint
    same = TaskKB(encoder=task_kb._encoder)
    assert same.fingerprint == task_kb.fingerprint
    m = task_kb.match("segment this image")
    assert check_agreement(m, m, task_kb.fingerprint, task_kb.fingerprint) == SEGMENTATION
    with pytest.raises(NegotiationFailed, match="KBs differ"):
        check_agreement(m, m, task_kb.fingerprint, other.fingerprint)
    r = task_kb.match("reconstruct the image")
    with pytest.raises(NegotiationFailed, match="transmitter chose segmentation"):
        check_agreement(m, r, task_kb.fingerprint, task_kb.fingerprint)


def test_long_requests_are_refused_and_errors_never_echo_a_whole_request(task_kb):
    with pytest.raises(TaskNotUnderstood, match="1001 characters is over the 1000-character cap"):
        task_kb.match("x" * 1001)
    with pytest.raises(TaskNotUnderstood) as exc:
        task_kb.match("the weather tomorrow " * 40)  # 840 characters, unrelated
    assert "more characters)" in str(exc.value) and len(str(exc.value)) < 400


@pytest.mark.parametrize("request_text", ["reconstruct and segment this image", "send me the picture, then segment it"])
def test_a_request_for_two_tasks_is_refused_not_half_done(task_kb, request_text):
    with pytest.raises(TaskNotUnderstood, match=r"asks for more than one task \(reconstruction and segmentation\)"):
        task_kb.match(request_text)


@pytest.mark.parametrize("request_text", ["which pixels are road and which are sky", "label the objects and the regions",
                                          "where are the cars", "find the sky"])
def test_one_task_said_with_and_or_briefly_still_maps(task_kb, request_text):
    assert task_kb.match(request_text).task == SEGMENTATION
