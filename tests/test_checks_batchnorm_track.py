"""The track exercises of lessons 04 and 05 (issue 25): batchnorm_forward / backward with
bn_param and running statistics, the spatial pair, the weight-scale and learning-rate
experiments. A correct answer passes, each known slip fails with its hint, a stub is not
attempted, and the grader carries bn_param's running statistics back from the sandbox."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks import batchnorm as checks


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.1)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(d))
    running_var = bn_param.get("running_var", np.ones(d))
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        m = x.shape[0]
        bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mu
        bn_param["running_var"] = (1 - momentum) * running_var + momentum * var * m / (m - 1)
    elif mode == "eval":
        mu, var = running_mean, running_var
    else:
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    return gamma * x_hat + beta, (x_hat, inv_std, gamma)

def batchnorm_backward(dout, cache):
    x_hat, inv_std, gamma = cache
    m = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma * inv_std * (dout - dbeta / m - x_hat * dgamma / m)
    return dx, dgamma, dbeta

def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    n, c, h, w = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), (cache, x.shape)

def spatial_batchnorm_backward(dout, cache):
    bn_cache, (n, c, h, w) = cache
    rows = dout.transpose(0, 2, 3, 1).reshape(-1, c)
    dx, dgamma, dbeta = batchnorm_backward(rows, bn_cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def softmax_ce(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    dscores = np.exp(log_p)
    dscores[np.arange(n), y] -= 1
    return -log_p[np.arange(n), y].mean(), dscores / n


def train_deep_net(x, y, hidden_dims, weight_scale, use_bn, steps, lr, seed):
    """Full-batch gradient descent on a ReLU MLP, with or without batch norm before every ReLU.
    Returns the loss of every step, computed before its update: shape (steps,)."""
    rng = np.random.default_rng(seed)
    dims = [x.shape[1], *hidden_dims, int(np.max(y)) + 1]
    n_layers = len(dims) - 1
    p = {}
    for i in range(1, n_layers + 1):
        p[f"W{i}"] = weight_scale * rng.standard_normal((dims[i - 1], dims[i]))
        p[f"b{i}"] = np.zeros(dims[i])
        if use_bn and i < n_layers:
            p[f"gamma{i}"], p[f"beta{i}"] = np.ones(dims[i]), np.zeros(dims[i])
    losses = []
    for _ in range(steps):
        h, caches = x, []
        for i in range(1, n_layers + 1):
            inp = h
            h = inp @ p[f"W{i}"] + p[f"b{i}"]
            bn_cache = None
            if i < n_layers:
                if use_bn:
                    h, bn_cache = batchnorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"],
                                                    {"mode": "train"})
                h = np.maximum(h, 0.0)
            caches.append((inp, bn_cache, h))
        loss, dh = softmax_ce(h, y)
        losses.append(loss)
        grads = {}
        for i in range(n_layers, 0, -1):
            inp, bn_cache, out = caches[i - 1]
            if i < n_layers:
                dh = dh * (out > 0)
                if use_bn:
                    dh, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dh, bn_cache)
            grads[f"W{i}"], grads[f"b{i}"] = inp.T @ dh, dh.sum(axis=0)
            dh = dh @ p[f"W{i}"].T
        for k in p:
            p[k] = p[k] - lr * grads[k]
    return np.array(losses)


def weight_scale_sweep(x, y, hidden_dims, scales, steps, lr, seed):
    """Last loss of train_deep_net for every scale: row 0 without batch norm, row 1 with it."""
    return np.array([[train_deep_net(x, y, hidden_dims, float(s), use_bn, steps, lr, seed)[-1]
                      for s in scales] for use_bn in (False, True)])


def lr_sweep(x, y, hidden_dims, lrs, weight_scale, steps, seed):
    final = np.zeros((2, len(lrs)))
    ups = np.zeros((2, len(lrs)))
    for row, use_bn in enumerate((False, True)):
        for j, lr in enumerate(lrs):
            losses = train_deep_net(x, y, hidden_dims, weight_scale, use_bn, steps, lr, seed)
            final[row, j] = losses[-1]
            ups[row, j] = np.sum(losses[1:] > losses[:-1])
    return final, ups


def stub(*args, **kwargs):
    raise NotImplementedError()




@pytest.mark.parametrize("seed", [0, 1, 5])
def test_the_reference_solutions_pass(seed):
    checks.check_batchnorm_forward(batchnorm_forward, seed=seed)
    checks.check_batchnorm_backward(batchnorm_forward, batchnorm_backward, seed=seed)
    checks.check_spatial_batchnorm_forward(spatial_batchnorm_forward, seed=seed)
    checks.check_spatial_batchnorm_backward(spatial_batchnorm_forward,
                                            spatial_batchnorm_backward, seed=seed)
    checks.check_train_deep_net(train_deep_net, seed=seed)
    checks.check_weight_scale_sweep(weight_scale_sweep, seed=seed)
    checks.check_lr_sweep(lr_sweep, seed=seed)


def test_stubs_are_not_attempted():
    for call in (lambda: checks.check_batchnorm_forward(stub),
                 lambda: checks.check_batchnorm_backward(batchnorm_forward, stub),
                 lambda: checks.check_spatial_batchnorm_forward(stub),
                 lambda: checks.check_train_deep_net(stub),
                 lambda: checks.check_weight_scale_sweep(stub),
                 lambda: checks.check_lr_sweep(stub)):
        with pytest.raises(NotAttemptedError):
            call()


def _forward_variant(momentum_rule=None, var_rule=None, eval_uses_batch=False,
                     store=True, default_eps=1e-5):
    def forward(x, gamma, beta, bn_param):
        eps, m = bn_param.get("eps", default_eps), bn_param.get("momentum", 0.1)
        d = x.shape[1]
        rm = bn_param.get("running_mean", np.zeros(d))
        rv = bn_param.get("running_var", np.ones(d))
        if bn_param["mode"] == "train" or eval_uses_batch:
            mu, var = x.mean(0), x.var(0)
            if bn_param["mode"] == "train" and store:
                n = len(x)
                batch_var = var if var_rule == "biased" else var * n / (n - 1)
                if momentum_rule == "cs231n":
                    new = (m * rm + (1 - m) * mu, m * rv + (1 - m) * batch_var)
                else:
                    new = ((1 - m) * rm + m * mu, (1 - m) * rv + m * batch_var)
                bn_param["running_mean"], bn_param["running_var"] = new
        else:
            mu, var = rm, rv
        x_hat = (x - mu) / np.sqrt(var + eps)
        return gamma * x_hat + beta, (x_hat, 1 / np.sqrt(var + eps), gamma)
    return forward


@pytest.mark.parametrize("variant, hint", [
    (dict(momentum_rule="cs231n"), "CS231n"),
    (dict(var_rule="biased"), "UNBIASED"),
    (dict(eval_uses_batch=True), "running statistics, not the batch"),
    (dict(store=False), "has no 'running_mean'"),
    (dict(default_eps=1e-3), "relative error"),
])
def test_forward_slips_are_named(variant, hint):
    with pytest.raises(ExerciseError, match=hint):
        checks.check_batchnorm_forward(_forward_variant(**variant))


def test_forward_that_uses_the_running_statistics_in_train_mode_is_named():
    def forward(x, gamma, beta, bn_param):
        out, cache = batchnorm_forward(x, gamma, beta, bn_param)
        fake = dict(bn_param, mode="eval")
        return batchnorm_forward(x, gamma, beta, fake)[0], cache
    with pytest.raises(ExerciseError, match="in train mode batch norm uses the batch"):
        checks.check_batchnorm_forward(forward, seed=3)


def test_eval_mode_must_leave_the_running_statistics_alone():
    def forward(x, gamma, beta, bn_param):
        mode = bn_param["mode"]
        out = batchnorm_forward(x, gamma, beta, dict(bn_param, mode="train") if mode == "eval"
                                else bn_param)
        if mode == "eval":
            bn_param["running_mean"] = bn_param["running_mean"] + 1.0
            return batchnorm_forward(x, gamma, beta, bn_param)
        return out
    with pytest.raises(ExerciseError):
        checks.check_batchnorm_forward(forward)


def test_backward_slips_are_named():
    def no_mean(dout, cache):
        x_hat, inv, gamma = cache
        return gamma * inv * (dout - x_hat * (dout * x_hat).mean(0)), (dout * x_hat).sum(0), \
            dout.sum(0)

    def constants(dout, cache):
        x_hat, inv, gamma = cache
        return gamma * inv * dout, (dout * x_hat).sum(0), dout.sum(0)

    with pytest.raises(ExerciseError, match="mean term"):
        checks.check_batchnorm_backward(batchnorm_forward, no_mean)
    with pytest.raises(ExerciseError, match="constants"):
        checks.check_batchnorm_backward(batchnorm_forward, constants)


def test_spatial_per_position_statistics_fail():
    def per_position(x, gamma, beta, bn_param):
        mu, var = x.mean(0, keepdims=True), x.var(0, keepdims=True)
        out = gamma.reshape(1, -1, 1, 1) * (x - mu) / np.sqrt(var + 1e-5) + \
            beta.reshape(1, -1, 1, 1)
        return out, None
    with pytest.raises(ExerciseError):
        checks.check_spatial_batchnorm_forward(per_position)


def test_experiment_slips_fail():
    def after_update(x, y, hidden, scale, use_bn, steps, lr, seed):
        return train_deep_net(x, y, hidden, scale, use_bn, steps + 1, lr, seed)[1:]

    def swapped(x, y, hidden, scales, steps, lr, seed):
        return weight_scale_sweep(x, y, hidden, scales, steps, lr, seed)[::-1]

    def other_draws(x, y, hidden, scale, use_bn, steps, lr, seed):
        return train_deep_net(x, y, hidden, scale, use_bn, steps, lr, seed + 1)

    def constant_losses(x, y, hidden, scale, use_bn, steps, lr, seed):
        return np.full(steps, np.log(int(np.max(y)) + 1))   # ln C: the shape, not the numbers

    with pytest.raises(ExerciseError, match="BEFORE its update"):
        checks.check_train_deep_net(after_update)
    with pytest.raises(ExerciseError, match="row 0 is without"):
        checks.check_weight_scale_sweep(swapped)
    for cheat in (other_draws, constant_losses):
        with pytest.raises(ExerciseError):
            checks.check_train_deep_net(cheat)

    def ups_counted_down(*args):
        final, ups = lr_sweep(*args)
        return final, (args[5] - 1) - ups
    with pytest.raises(ExerciseError, match="HIGHER"):
        checks.check_lr_sweep(ups_counted_down)


def test_reference_experiment_matches_the_solution_on_mnist_sized_inputs():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 20)), np.arange(30) % 4
    for use_bn in (False, True):
        np.testing.assert_allclose(
            checks.reference_deep_net_losses(x, y, [8, 8], 0.3, use_bn, 5, 0.2, 3),
            train_deep_net(x, y, [8, 8], 0.3, use_bn, 5, 0.2, 3), rtol=1e-10)


def test_grader_sends_bn_params_running_statistics_back(tmp_path):
    """Through the sandbox, a forward that updates bn_param in place passes and one that forgets
    to fails: the dict argument travels back from the child process."""
    from trainlab.checks import grading

    source = open(__file__).read()
    start = source.index("def batchnorm_forward")
    cell = source[start:source.index("def batchnorm_backward")]
    sandbox = grading.Sandbox([{"qid": "x-solution", "source": "import numpy as np\n" + cell}],
                              deadline=__import__("time").monotonic() + 60)
    try:
        proxy = grading.StudentFunction(sandbox, "batchnorm_forward")
        checks.check_batchnorm_forward(proxy, seed=2)
        bn_param = {"mode": "train"}
        proxy(np.arange(6.0).reshape(3, 2), np.ones(2), np.zeros(2), bn_param)
        assert set(bn_param) == {"mode", "running_mean", "running_var"}
        assert copy.deepcopy(bn_param["running_mean"]).tolist() == pytest.approx([0.2, 0.3])
    finally:
        sandbox.close()


OWN_CACHE_FORWARD = '''def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.1)
    d = x.shape[1]
    rm = bn_param.get("running_mean", np.zeros(d))
    rv = bn_param.get("running_var", np.ones(d))
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        m = x.shape[0]
        bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
        bn_param["running_var"] = (1 - momentum) * rv + momentum * var * m / (m - 1)
    elif mode == "eval":
        mu, var = rm, rv
    else:
        raise ValueError(f"bad mode {mode!r}")
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, (x, mu, var, eps, gamma)
'''

OWN_CACHE_BACKWARD = '''def batchnorm_backward(dout, cache):
    x, mu, var, eps, gamma = cache
    m, std = x.shape[0], np.sqrt(var + eps)
    x_hat = (x - mu) / std
    dxh = dout * gamma
    dvar = np.sum(dxh * (x - mu), axis=0) * -0.5 * std ** -3
    dmu = np.sum(-dxh / std, axis=0)
    dx = dxh / std + dvar * 2 * (x - mu) / m + dmu / m
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
'''


def _grade_04(replacements: dict[str, str]):
    import json
    from pathlib import Path

    import nbformat

    from trainlab.checks import grading, isolation

    if isolation.problem():
        pytest.skip(f"no sandbox here: {isolation.problem()}")
    root = Path(__file__).resolve().parents[1]
    nb = nbformat.read(root / "notebooks" / "student" / "04_batchnorm.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in replacements:
            cell.source = replacements[gid]
    lesson = grading.load_lesson(root / "notebooks" / "04_batchnorm.ipynb")
    sub = grading.grade_notebook(json.loads(nbformat.writes(nb)), lesson, "t", "t.ipynb", 30)
    return {q.qid: q.score for q in sub.questions}


def test_the_grader_runs_the_backward_with_the_learners_own_forward_and_cache():
    """The exercise lets the cache be "whatever your backward pass needs": a forward whose
    cache is not the reference's layout, with the backward that reads it, passes both checks
    in the notebook, so the grader must give exercise 2 its points too (it used to run the
    backward after the REFERENCE forward only, whose cache it cannot unpack: 0/3)."""
    checks.check_batchnorm_forward(_own(OWN_CACHE_FORWARD, "batchnorm_forward"), seed=0)
    scores = _grade_04({"04-ex1-solution": OWN_CACHE_FORWARD,
                        "04-ex2-solution": OWN_CACHE_BACKWARD})
    assert scores["04-ex1"] == 3 and scores["04-ex2"] == 3


def test_a_failing_forward_still_leaves_the_backward_its_reference_cache():
    """An exercise 1 that does not pass costs only its own points: exercise 2 then runs after
    the reference forward (here a backward written for the reference's cache)."""
    broken = OWN_CACHE_FORWARD.replace("x.var(axis=0)", "x.std(axis=0)")
    backward = '''def batchnorm_backward(dout, cache):
    x_hat, inv_std, gamma = cache
    m = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
    return gamma * inv_std * (dout - dbeta / m - x_hat * dgamma / m), dgamma, dbeta
'''
    scores = _grade_04({"04-ex1-solution": broken, "04-ex2-solution": backward})
    assert scores["04-ex1"] < 3 and scores["04-ex2"] == 3


def test_a_learners_own_forward_never_costs_the_backward_points_the_reference_gives():
    """A backward written for the reference's cache after a full-marks forward with another
    cache: the run with the learner's forward fails, the run with the references alone passes,
    and the better one counts (no submission scores less than with the references alone)."""
    backward = '''def batchnorm_backward(dout, cache):
    x_hat, inv_std, gamma = cache
    m = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
    return gamma * inv_std * (dout - dbeta / m - x_hat * dgamma / m), dgamma, dbeta
'''
    scores = _grade_04({"04-ex1-solution": OWN_CACHE_FORWARD, "04-ex2-solution": backward})
    assert scores["04-ex1"] == 3 and scores["04-ex2"] == 3


def _own(source: str, name: str):
    space = {"np": np}
    exec(source, space)  # noqa: S102 - the test's own code
    return space[name]
