import os
import random

import numpy as np
import pytest
import torch

from tests.fuzzing import load_profile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))
load_profile()  # Hypothesis: `ci` (derandomized) unless HYPOTHESIS_PROFILE or --hypothesis-profile says otherwise


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global random state, whatever ran before it or in which order."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def task_kb():
    from shared.task_kb import TaskKB

    return TaskKB()


@pytest.fixture(scope="session")
def test_cfg():
    from shared.config import get_preset

    return get_preset("test")
