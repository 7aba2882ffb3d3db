"""The one enumeration of binary states (unit 0 the most significant bit), exact sums over
them, and the one result type of a partition function."""

import itertools

import numpy as np
import pytest

from workbench.data.ising import ising_exact
from workbench.energy import RBM, Hopfield, LogPartition, binary_states
from workbench.energy import states as states_module
from workbench.errors import InputError, check_count


@pytest.mark.parametrize("n", [1, 3, 6])
def test_state_k_is_k_written_in_binary_with_unit_0_first(n):
    S = binary_states(n)
    assert S.shape == (2**n, n) and S.dtype == np.float64
    for k in range(2**n):
        assert S[k].tolist() == [float(c) for c in format(k, f"0{n}b")]
    # the same order as itertools.product, and as every weighted sum of bits with unit 0 heaviest
    np.testing.assert_array_equal(S, list(itertools.product((0.0, 1.0), repeat=n)))
    np.testing.assert_array_equal(S @ 2 ** np.arange(n - 1, -1, -1), np.arange(2**n))


def test_chunks_and_slices_follow_the_same_order(monkeypatch):
    np.testing.assert_array_equal(binary_states(5, 7, 9), binary_states(5)[7:16])
    with pytest.raises(InputError, match=r"count: expected rows within the 2\^3 states"):
        binary_states(3, 4, 8)  # past the last state, the bits would wrap around
    monkeypatch.setattr(states_module, "CHUNK_ELEMENTS", 12)  # 2 rows of 6 units per chunk
    chunks = list(states_module.state_chunks(6))
    assert len(chunks) == 32 and all(len(c) == 2 for c in chunks)
    np.testing.assert_array_equal(np.vstack(chunks), binary_states(6))


def test_ising_states_are_listed_in_the_same_order():
    states, probs = ising_exact(2, 1.0)
    np.testing.assert_array_equal(states, binary_states(4))
    assert probs.sum() == pytest.approx(1.0)


def test_log_sum_over_states_against_a_closed_form_and_the_limit():
    # independent units: log sum_s exp(c.s) = sum_i log(1 + e^{c_i})
    c = np.array([0.3, -1.2, 2.0, 0.0, -0.4])
    total = states_module.log_sum_over_states(lambda S: S @ c, 5)
    assert total == pytest.approx(np.logaddexp(0.0, c).sum(), rel=1e-13)
    with pytest.raises(InputError, match=r"2\^5 = 32 states of the units.*max_states = 16") as err:
        states_module.log_sum_over_states(lambda S: S @ c, 5, max_states=16)
    assert err.value.argument == "max_states"


def test_log_partition_is_one_type_and_float_works():
    rng = np.random.default_rng(1)
    rbm = RBM(rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=3))
    exact = rbm.log_partition()
    ais = rbm.log_partition("ais", n_runs=20, n_betas=50, seed=0)
    J, bias = rng.normal(size=(4, 4)), rng.normal(size=4)
    J = J + J.T
    hopfield = Hopfield(J, bias).log_partition()
    for result in (exact, ais, hopfield):
        assert isinstance(result, LogPartition)
        assert float(result) == result.value and isinstance(float(result), float)
    assert (exact.se, hopfield.se, exact.n_runs) == (0.0, 0.0, 0)
    assert ais.se > 0 and ais.interval(2) == (ais.value - 2 * ais.se, ais.value + 2 * ais.se)
    # Hopfield log Z against a direct sum over itertools' states
    X = np.array(list(itertools.product((0.0, 1.0), repeat=4)))
    energies = [-x @ bias - 0.5 * x @ J @ x for x in X]
    assert float(hopfield) == pytest.approx(np.log(np.sum(np.exp(-np.array(energies)))))


def test_check_count():
    assert check_count("n", np.int64(3), 1) == 3
    for bad in (0, 2.0, True, "3", None):
        with pytest.raises(InputError, match=f"n: expected an integer >= 1, got {bad!r}"):
            check_count("n", bad, 1)


def test_log_mean_exp_matches_direct_mean_and_delta_method():
    from workbench.energy.states import log_mean_exp

    rng = np.random.default_rng(3)
    log_w = rng.normal(size=500)
    w = np.exp(log_w)
    value, se = log_mean_exp(log_w)
    assert value == pytest.approx(np.log(w.mean()), rel=1e-12)
    assert se == pytest.approx(w.std(ddof=1) / (w.mean() * np.sqrt(w.size)), rel=1e-12)
    shifted, se_shifted = log_mean_exp(log_w + 800.0)  # exp overflows; the log-sum-exp does not
    assert shifted == pytest.approx(value + 800.0, rel=1e-12)
    assert se_shifted == pytest.approx(se, rel=1e-9)
    with pytest.raises(InputError, match="log_weights"):
        log_mean_exp([])
