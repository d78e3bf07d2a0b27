"""trainlab.ridge: dropout on linear regression is (weighted) ridge regression."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from trainlab import ridge
from trainlab.gradcheck import numeric_gradient, rel_error


def _problem(seed: int = 0, n: int = 40, d: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.3, 3.0, d)
    y = X @ rng.standard_normal(d) + 0.2 * rng.standard_normal(n)
    return X, y


def _exact_expectation(X: np.ndarray, y: np.ndarray, w: np.ndarray, p: float) -> float:
    """E_R ||y - (R * X) w||^2 by summing over all 2^(n d) masks with their probabilities."""
    total = 0.0
    for bits in itertools.product((0, 1), repeat=X.size):
        R = np.array(bits).reshape(X.shape)
        prob = p ** R.sum() * (1 - p) ** (R.size - R.sum())
        total += prob * ridge.dropped_out_loss(X, y, w, R)
    return total


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 3), d=st.integers(1, 3),
       p=st.floats(0.05, 1.0))
def test_closed_form_equals_exact_expectation(seed: int, n: int, d: int, p: float) -> None:
    rng = np.random.default_rng(seed)
    X, y, w = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d)
    exact = _exact_expectation(X, y, w, p)
    assert ridge.expected_dropout_loss(X, y, w, p) == pytest.approx(exact, rel=1e-10, abs=1e-12)


def test_lecture_slip_is_not_the_expectation() -> None:
    X, y = _problem(1, n=3, d=2)
    w, p = np.array([0.7, -1.2]), 0.6
    exact = _exact_expectation(X, y, w, p)
    slip = np.sum((y - X @ w) ** 2) + (1 - p) * np.sum(w ** 2)
    assert abs(slip - exact) > 0.05 * exact
    assert ridge.expected_dropout_loss(X, y, w, p) == pytest.approx(exact, rel=1e-12)


def test_monte_carlo_converges_to_closed_form() -> None:
    X, y = _problem(2)
    w = np.array([0.5, -1.0, 0.3, 2.0])
    losses = ridge.dropout_losses(X, y, w, 0.7, 20_000, rng=3)
    assert losses.shape == (20_000,)
    closed = ridge.expected_dropout_loss(X, y, w, 0.7)
    sem = losses.std() / np.sqrt(losses.size)
    assert abs(losses.mean() - closed) < 4 * sem
    np.testing.assert_array_equal(losses, ridge.dropout_losses(X, y, w, 0.7, 20_000, rng=3))


def test_keep_prob_one_is_least_squares() -> None:
    X, y = _problem(3)
    w = np.ones(4)
    assert ridge.expected_dropout_loss(X, y, w, 1.0) == pytest.approx(np.sum((y - X @ w) ** 2))
    np.testing.assert_allclose(ridge.dropout_losses(X, y, w, 1.0, 5, rng=0),
                               np.sum((y - X @ w) ** 2))
    np.testing.assert_allclose(ridge.dropout_ridge_solution(X, y, 1.0),
                               np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)


def test_dropped_out_loss_matches_torch_dropout_mask() -> None:
    X, y = _problem(4, n=6, d=3)
    w = np.array([1.0, -2.0, 0.5])
    gen = torch.Generator().manual_seed(0)
    keep = 0.75
    mask = torch.bernoulli(torch.full(X.shape, keep, dtype=torch.float64), generator=gen)
    torch.manual_seed(1)
    out = torch.nn.Dropout(p=1 - keep)(torch.from_numpy(X))
    torch_mask = (out != 0).numpy()
    for m in (mask.numpy(), torch_mask):
        expected = torch.sum((torch.from_numpy(y) - (torch.from_numpy(m) * torch.from_numpy(X))
                              @ torch.from_numpy(w)) ** 2).item()
        assert ridge.dropped_out_loss(X, y, w, m) == pytest.approx(expected, rel=1e-12)
    inverted = (out.numpy() * keep) @ w
    np.testing.assert_allclose(inverted, (torch_mask * X) @ w, rtol=1e-12)


def test_solution_minimises_expected_loss_numeric_gradient() -> None:
    X, y = _problem(5)
    p = 0.6
    w_tilde = ridge.dropout_ridge_solution(X, y, p)
    w_star = w_tilde / p
    grad = numeric_gradient(lambda w: ridge.expected_dropout_loss(X, y, w, p), w_star.copy(),
                            h=1e-5)
    assert np.max(np.abs(grad)) < 1e-5 * ridge.expected_dropout_loss(X, y, w_star, p)
    for delta in np.eye(4) * 1e-2:
        assert ridge.expected_dropout_loss(X, y, w_star + delta, p) > \
            ridge.expected_dropout_loss(X, y, w_star, p)


def test_solution_minimises_expected_loss_torch_autograd() -> None:
    X, y = _problem(6)
    p = 0.8
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    w = torch.from_numpy(ridge.dropout_ridge_solution(X, y, p) / p).requires_grad_(True)
    gamma2 = (Xt ** 2).sum(dim=0)
    loss = ((yt - p * Xt @ w) ** 2).sum() + p * (1 - p) * (gamma2 * w ** 2).sum()
    loss.backward()
    assert loss.item() == pytest.approx(
        ridge.expected_dropout_loss(X, y, w.detach().numpy(), p), rel=1e-12)
    assert w.grad.abs().max().item() < 1e-8 * loss.item()


def test_standardised_features_give_sklearn_ridge() -> None:
    X, y = _problem(7, n=120, d=5)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    np.testing.assert_allclose(ridge.gamma_diag(Xs), np.sqrt(120), rtol=1e-12)
    for p in (0.3, 0.8):
        lam = ridge.standardised_ridge_lambda(120, p)
        assert lam == pytest.approx((1 - p) / p * 120)
        sk = Ridge(alpha=lam, fit_intercept=False).fit(Xs, y).coef_
        assert rel_error(ridge.dropout_ridge_solution(Xs, y, p), sk) < 1e-8


def test_weighted_ridge_solution_and_scalar_penalty() -> None:
    X, y = _problem(8)
    pen = np.array([0.0, 1.0, 10.0, 100.0])
    w = ridge.ridge_solution(X, y, pen)
    np.testing.assert_allclose((X.T @ X + np.diag(pen)) @ w, X.T @ y, rtol=1e-10)
    np.testing.assert_allclose(ridge.ridge_solution(X, y, 3.0),
                               ridge.ridge_solution(X, y, np.full(4, 3.0)))


@pytest.mark.parametrize("inverted", [True, False])
def test_sgd_reaches_the_ridge_solution(inverted: bool) -> None:
    X, y = _problem(9, n=100, d=3)
    p = 0.7
    w_sgd = ridge.sgd_dropout_regression(X, y, p, steps=4000, lr=0.02, rng=0,
                                         inverted=inverted)
    w_tilde = w_sgd if inverted else p * w_sgd
    target = ridge.dropout_ridge_solution(X, y, p)
    assert np.linalg.norm(w_tilde - target) < 5e-3 * np.linalg.norm(target)
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.linalg.norm(ols - target) > 0.05 * np.linalg.norm(target)


def test_sgd_minibatches_are_deterministic() -> None:
    X, y = _problem(10, n=50, d=2)
    a = ridge.sgd_dropout_regression(X, y, 0.8, steps=300, lr=0.01, batch_size=10, rng=4)
    b = ridge.sgd_dropout_regression(X, y, 0.8, steps=300, lr=0.01, batch_size=10,
                                     rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("call", "exc", "match"), [
    (lambda X, y: ridge.expected_dropout_loss(X, y, np.ones(4), 1.5), ValueError,
     r"keep_prob must be in \(0, 1\], got 1.5"),
    (lambda X, y: ridge.expected_dropout_loss(X, y, np.ones(4), 0.0), ValueError, "keep_prob"),
    (lambda X, y: ridge.expected_dropout_loss(X, y, np.ones(4), True), TypeError, "keep_prob"),
    (lambda X, y: ridge.expected_dropout_loss(X, y, np.ones(3), 0.5), ValueError,
     r"w must have shape \(4,\)"),
    (lambda X, y: ridge.expected_dropout_loss(X, y[:-1], np.ones(4), 0.5), ValueError,
     r"y must have shape \(40,\)"),
    (lambda X, y: ridge.expected_dropout_loss(X[0], y, np.ones(4), 0.5), ValueError,
     r"X must have shape \(n, d\)"),
    (lambda X, y: ridge.gamma_diag(np.where(X > 2, np.nan, X)), ValueError, "X must be finite"),
    (lambda X, y: ridge.gamma_diag(X.astype(str)), TypeError, "X must be a real"),
    (lambda X, y: ridge.dropped_out_loss(X, y, np.ones(4), np.full(X.shape, 0.5)), ValueError,
     "mask must hold only 0 and 1"),
    (lambda X, y: ridge.dropped_out_loss(X, y, np.ones(4), np.ones((3, 4))), ValueError,
     "mask must have X's shape"),
    (lambda X, y: ridge.dropout_losses(X, y, np.ones(4), 0.5, 0), ValueError,
     "n_masks must be an int >= 1, got 0"),
    (lambda X, y: ridge.ridge_solution(X, y, -1.0), ValueError, "penalty must be >= 0"),
    (lambda X, y: ridge.ridge_solution(np.ones((5, 2)), y[:5], 0.0), ValueError, "singular"),
    (lambda X, y: ridge.standardised_ridge_lambda(0, 0.5), ValueError, "n must be an int >= 1"),
    (lambda X, y: ridge.sgd_dropout_regression(X, y, 0.5, steps=10, lr=-1.0), ValueError,
     "lr must be a finite number > 0, got -1.0"),
    (lambda X, y: ridge.sgd_dropout_regression(X, y, 0.5, steps=10, lr=0.1, batch_size=41),
     ValueError, r"batch_size must be in \[1, 40\]"),
    (lambda X, y: ridge.sgd_dropout_regression(X, y, 0.5, steps=10, lr=0.1, average_from=1.0),
     ValueError, r"average_from must be in \[0, 1\)"),
])
def test_bad_input_is_rejected(call, exc: type[Exception], match: str) -> None:
    X, y = _problem(11)
    with pytest.raises(exc, match=match):
        call(X, y)
