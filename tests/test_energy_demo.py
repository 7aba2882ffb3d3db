"""The energy section of `workbench demo` on its own: every number it prints against NumPy
enumeration (the joint table of the 2x2 RBM, p(v) before and after one exact gradient step,
log Z of the 30x16 RBM) and the AIS estimates within 4 standard errors of the exact log Z."""

import re

import numpy as np
import pytest
from scipy.special import logsumexp

from workbench.energy.demo import section_energy
from workbench.report import HtmlReport

SEED = 1
W = np.array([[2.0, -1.0], [1.5, 1.0]])  # the section's 2x2 RBM: W[i, j] couples v_i, h_j
A, B = np.array([-1.0, 0.5]), np.array([-0.5, 0.2])
DATA = np.array([[1, 0], [0, 1]])


def bits(n):
    """All 2^n binary vectors, first unit as the most significant bit (the table's order)."""
    return (np.arange(2**n)[:, None] >> np.arange(n)[::-1]) & 1


def joint(W, a, b):
    """Energies E(v, h) = -a.v - b.h - v W h and probabilities, rows v-major as printed."""
    v, h = bits(W.shape[0]), bits(W.shape[1])
    energy = -((v @ a)[:, None] + (h @ b)[None, :] + v @ W @ h.T)  # (2^n_v, 2^n_h)
    return energy, np.exp(-energy - logsumexp(-energy))


def exact_step(W, a, b, rate=0.5):
    """One ascent step on the mean log-likelihood of DATA, with the exact gradient."""
    v, h = bits(2), bits(2)
    _, p = joint(W, a, b)
    rows = [int(np.flatnonzero((v == x).all(1))[0]) for x in DATA]
    ph = (p[rows] / p[rows].sum(1, keepdims=True)) @ h  # E[h | v] for each data row
    grad_W = v[rows].T @ ph / len(rows) - v.T @ p @ h
    grad_a = v[rows].mean(0) - p.sum(1) @ v
    grad_b = ph.mean(0) - p.sum(0) @ h
    return W + rate * grad_W, a + rate * grad_a, b + rate * grad_b


def mean_loglik(W, a, b):
    _, p = joint(W, a, b)
    rows = [int(np.flatnonzero((bits(2) == x).all(1))[0]) for x in DATA]
    return np.log(p.sum(1)[rows]).mean()


def log_z_by_hidden_states(W, a, b):
    """log Z summing the visible units out analytically, the hidden states by enumeration."""
    h = bits(W.shape[1])
    return logsumexp(h @ b + np.logaddexp(0, a + h @ W.T).sum(1))


@pytest.fixture(scope="module")
def section():
    report = HtmlReport("energy")
    line = section_energy(report, seed=SEED)
    return line, re.findall(r"<table>(.*?)</table>", report.html(), re.S)


def rows_of(table):
    """The body rows of an HTML table, as the cells' displayed text."""
    body = table.split("<tbody>")[1]
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in body.split("</tr>")[:-1]]


def test_joint_table_is_the_boltzmann_distribution(section):
    table = rows_of(section[1][0])
    energy, p = joint(W, A, B)
    printed = {(v, h): (float(e), float(w), float(q)) for v, h, e, w, q, *_ in table if len(v) == 2}
    assert len(printed) == 16
    for i, v in enumerate(bits(2)):
        for j, h in enumerate(bits(2)):
            e, w, q = printed["".join(map(str, v)), "".join(map(str, h))]
            assert e == pytest.approx(energy[i, j], abs=6e-4)
            assert w == pytest.approx(np.exp(-energy[i, j]), abs=6e-5)
            assert q == pytest.approx(p[i, j], abs=6e-5)


def test_one_exact_step_moves_p_v_as_enumeration_says(section):
    line, pres = section
    stepped = exact_step(W, A, B)
    before, after = joint(W, A, B)[1].sum(1), joint(*stepped)[1].sum(1)
    printed = np.array([[float(x) for x in row[1:]] for row in rows_of(pres[1])])
    np.testing.assert_allclose(printed, np.c_[before, after], atol=6e-5)
    ll_before, ll_after = (float(x) for x in re.findall(r"-\d+\.\d+", line)[:2])
    assert ll_before == pytest.approx(mean_loglik(W, A, B), abs=6e-4)
    assert ll_after == pytest.approx(mean_loglik(*stepped), abs=6e-4)


def test_log_z_exact_and_ais_within_4_se(section):
    rng = np.random.default_rng(SEED)
    medium = rng.normal(0, 0.5, (30, 16)), rng.normal(0, 0.5, 30), rng.normal(0, 0.5, 16)
    exact = log_z_by_hidden_states(*medium)
    rows = rows_of(section[1][2])
    assert float(rows[0][1]) == pytest.approx(exact, abs=6e-5)
    for method, value, se, _ in rows[1:]:
        assert abs(float(value) - exact) < 4 * float(se), method
    assert f"log Z {exact:.3f}" in section[0]
