import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def task_kb():
    from shared.task_kb import TaskKB

    return TaskKB()


@pytest.fixture(scope="session")
def test_cfg():
    from shared.config import get_preset

    return get_preset("test")
