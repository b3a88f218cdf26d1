"""Every system in the registry keeps the same contract: built from its entry, one image through the project's
channel gives an output of the right kind, the seed fixes it, and what the registry says trains, trains."""

import pytest
import torch

from semcom import systems
from semcom.baselines.learned import LEARNED, BaselineSystem
from shared.channel import ChannelSpec
from shared.tasks import RECONSTRUCTION, SEGMENTATION

CASES = [(name, task) for name in systems.names() for task in systems.tasks_of(systems.REGISTRY[name])]
SLOW = {name for name in systems.names() if "jpeg" in name}  # Sionna's LDPC decoder: seconds per image


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    weights = tmp_path_factory.mktemp("baselines")
    for name in LEARNED:  # untrained, saved as training would save them
        BaselineSystem(name, "1/16", width=8).eval().save(weights / name)
    img = torch.rand(3, 64, 80, generator=torch.Generator().manual_seed(0))
    return systems.BuildContext(preset="test", weights="none", baseline_weights=str(weights), steps=2,
                                images=[img])


@pytest.mark.parametrize("name,task", [pytest.param(n, t, marks=pytest.mark.slow) if n in SLOW else (n, t)
                                       for n, t in CASES])
def test_every_system_runs_one_image_through_the_channel(ctx, name, task):
    built = systems.get(name, task).build(ctx, task)
    img = ctx.images[0]
    spec = ChannelSpec("awgn", 10.0)
    out = built.run(img, spec, 3)
    assert built.cbr == "1/16" and isinstance(built.provenance, dict)
    if task == RECONSTRUCTION:
        assert out.shape == img.shape and out.dtype == torch.float32
        assert 0 <= float(out.min()) and float(out.max()) <= 1
    else:
        classes, void = built.classes
        assert out.shape == img.shape[-2:] and not out.is_floating_point()
        assert 0 <= int(out.min()) and int(out.max()) < classes
    assert torch.equal(built.run(img, spec, 3), out)  # the seed fixes the channel and the sampler


def test_names_tasks_and_training_agree():
    from semcom.train.trainer import parse

    assert systems.names(RECONSTRUCTION)[0] == "proposed" and systems.names(SEGMENTATION)[0] == "proposed"
    assert set(systems.trainable()) == {"proposed", *LEARNED}
    for name in systems.trainable():
        assert name in LEARNED or name == "proposed"
    with pytest.raises(SystemExit):  # the trainer refuses what the registry does not train
        parse(["--system", "linear", "--out", "x"])
    with pytest.raises(KeyError, match="not a segmentation system"):
        systems.get("witt", SEGMENTATION)
    with pytest.raises(KeyError, match="unknown system"):
        systems.get("bpg", RECONSTRUCTION)
