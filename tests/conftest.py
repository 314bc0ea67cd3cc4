"""Test configuration: checks on, a private cache directory, hypothesis profiles.

Profiles: ``ci`` (the default: fast) and ``thorough`` (``FUNCGRAD_TEST_PROFILE=thorough``).
"""
import os
import tempfile

os.environ.setdefault("FUNCGRAD_CACHE_DIR", tempfile.mkdtemp(prefix="funcgrad-test-cache-"))

import hypothesis  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import funcgrad as fg  # noqa: E402

# funcgrad may have been imported before this file ran (by a plugin), with the cache directory
# read from the environment then: set it again, so that tests never write to the user's home.
fg.config.update("cache_dir", os.environ["FUNCGRAD_CACHE_DIR"])

hypothesis.settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow,
                           hypothesis.HealthCheck.data_too_large])
hypothesis.settings.register_profile(
    "thorough", max_examples=300, deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow,
                           hypothesis.HealthCheck.data_too_large])
hypothesis.settings.load_profile(os.environ.get("FUNCGRAD_TEST_PROFILE", "ci"))

fg.config.update("enable_checks", True)

# tests/cuda runs in its own process (test_cuda_simulator.py starts it), because Numba reads
# NUMBA_ENABLE_CUDASIM once, at import; or directly on a machine with a GPU when
# FUNCGRAD_TEST_CUDA=1.
collect_ignore = [] if (os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
                        or os.environ.get("FUNCGRAD_TEST_CUDA") == "1") else ["cuda"]


def pytest_collection_finish(session):
    # Start the simulator's child process now, so that it runs alongside the other tests.
    from tests import test_cuda_simulator as sim
    if any(item.nodeid.endswith(sim.TEST_ID.split("/", 1)[1]) for item in session.items):
        try:
            import numba.cuda  # noqa: F401
        except ImportError:
            return
        sim.start()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
