"""setup_notebook makes a lesson reproducible; progress bars go quiet for nbval."""

import os

import numpy as np
import pytest
import torch

import trainlab
from trainlab import models, notebook, train


@pytest.fixture(autouse=True)
def _restore_default_dtype():
    """setup_notebook changes torch's default dtype; other test modules expect float32."""
    before = torch.get_default_dtype()
    yield
    torch.set_default_dtype(before)


def test_setup_notebook_reseeds_numpy_and_torch():
    trainlab.setup_notebook(seed=3)
    a = (np.random.rand(3), torch.randn(3))  # noqa: NPY002 - the global one is seeded
    trainlab.setup_notebook(seed=3)
    b = (np.random.rand(3), torch.randn(3))  # noqa: NPY002
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    trainlab.setup_notebook(seed=4)
    assert not torch.equal(torch.randn(3), b[1])


def test_setup_notebook_fixes_threads_and_style():
    import matplotlib as mpl
    from threadpoolctl import threadpool_info

    from trainlab.style import PALETTE

    trainlab.setup_notebook(seed=0, threads=1)
    assert torch.get_num_threads() == 1
    assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"][:3] == PALETTE[:3]


def test_setup_notebook_limits_threads_of_libraries_loaded_later():
    """scikit-learn (its own OpenMP) and SciPy (its own OpenBLAS) imported after the set-up
    start with one thread each, not one per core."""
    import json
    import subprocess
    import sys

    code = ("import trainlab; trainlab.setup_notebook(seed=0, threads=1)\n"
            "import sklearn.linear_model, scipy.linalg\n"
            "import json; from threadpoolctl import threadpool_info\n"
            "print(json.dumps([[p['internal_api'], p['num_threads']] for p in threadpool_info()]))")
    env = {k: v for k, v in os.environ.items() if k not in notebook.THREAD_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    pools = json.loads(out)
    assert {api for api, _ in pools} >= {"openmp", "openblas"}, pools
    assert all(n == 1 for _, n in pools), pools


def test_setup_notebook_makes_lessons_run_in_float64():
    trainlab.setup_notebook(seed=0)
    assert torch.get_default_dtype() == torch.float64
    net = models.mlp(4, [8], 3)
    assert next(net.parameters()).dtype == torch.float64
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 4)).astype(np.float32), rng.integers(0, 3, 32)
    history = train.train(net, (x, y), steps=3, batch_size=8, record_every=1, progress=False)
    assert np.isfinite(history.final("train_loss"))
    trainlab.setup_notebook(seed=0, dtype="float32")
    assert next(models.mlp(4, [8], 3).parameters()).dtype == torch.float32


def test_train_follows_the_model_dtype_not_the_default():
    torch.set_default_dtype(torch.float32)
    net = models.mlp(4, [8], 3).double()
    x, y = np.ones((8, 4), dtype=np.float32), np.zeros(8, dtype=np.int64)
    history = train.train(net, (x, y), steps=2, batch_size=4, record_every=1, progress=False)
    assert np.isfinite(history.final("train_loss"))
    assert next(net.parameters()).dtype == torch.float64


@pytest.mark.parametrize("kwargs, name", [({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"),
                                          ({"threads": 0}, "threads"),
                                          ({"dtype": "float16"}, "dtype")])
def test_setup_notebook_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        trainlab.setup_notebook(**kwargs)


def test_progress_is_silent_when_the_environment_says_so(monkeypatch, capsys):
    monkeypatch.setenv(notebook.NO_PROGRESS_ENV, "1")
    assert list(notebook.progress(range(5), total=5)) == [0, 1, 2, 3, 4]
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_shows_a_bar_otherwise(monkeypatch, capsys):
    monkeypatch.setenv(notebook.NO_PROGRESS_ENV, "0")
    assert list(notebook.progress(range(3), total=3, desc="steps")) == [0, 1, 2]
    assert "steps" in capsys.readouterr().err
