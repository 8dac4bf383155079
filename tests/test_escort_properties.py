"Property tests (hypothesis) of the escort transform's invariants."
import math, torch
from hypothesis import given, settings, strategies as st
from powerflow_nb.escort import escort_logp, entropy

logits = st.lists(st.floats(-30, 30, allow_nan=False), min_size=2, max_size=12).map(lambda xs: torch.tensor(xs, dtype=torch.float64))
alphas = st.floats(0.05, 50.0, allow_nan=False)

@settings(max_examples=200, deadline=None)
@given(logits, alphas)
def test_sums_to_one(x, a): assert math.isclose(escort_logp(x, a).exp().sum().item(), 1.0, rel_tol=1e-9)

@settings(max_examples=200, deadline=None)
@given(logits)
def test_alpha_one_is_identity(x): assert torch.allclose(escort_logp(x, 1.0), x.log_softmax(-1), atol=1e-12)

@settings(max_examples=200, deadline=None)
@given(logits, alphas)
def test_order_preserved(x, a):
    y = escort_logp(x, a)
    i, j = torch.triu_indices(len(x), len(x), 1)
    strict = x[i] > x[j]
    assert (y[i][strict] >= y[j][strict]).all()

@settings(max_examples=200, deadline=None)
@given(logits, alphas, alphas)
def test_entropy_nonincreasing(x, a, b):
    lo, hi = min(a, b), max(a, b)
    assert entropy(escort_logp(x, hi)) <= entropy(escort_logp(x, lo)) + 1e-9

@settings(max_examples=200, deadline=None)
@given(logits, st.floats(0.1, 10), st.floats(0.1, 10))
def test_composition(x, a, b):
    assert torch.allclose(escort_logp(escort_logp(x, a), b), escort_logp(x, a * b), atol=1e-8)
