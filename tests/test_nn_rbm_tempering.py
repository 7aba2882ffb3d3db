"""Parallel tempering of the Torch RBM against exact tempered marginals on a 3 x 3 model.

The trainer's own kernels (``training.tempered_negative_phase``: Gibbs sweeps at every
temperature, then Metropolis swaps of neighbours) run with fixed weights. Each chain index is
an independent Markov chain, so the final states of 50,000 of them are an i.i.d. sample at
every temperature: a chi-square test against p_beta(v), enumerated over the 2^3 visible states
with the hidden units summed out analytically, is exact and (with a fixed seed) not flaky.
"""

import itertools

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import chisquare

from workbench.nn.rbm import training
from workbench.nn.rbm.model import RBM

W = np.array([[2.0, -1.5, 0.5], [-1.0, 2.5, -2.0], [1.5, 0.5, -2.5]])
A = np.array([-1.0, 0.5, 0.3])
B = np.array([0.5, -1.0, 1.0])
BETAS = np.array([1.0, 2 / 3, 1 / 3])  # training.temperatures(3)
STATES = np.array(list(itertools.product((0.0, 1.0), repeat=3)))  # (8, 3)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest


def tempered_marginal(beta):
    """p_beta(v) ∝ sum_h exp(-beta E(v, h)) = exp(beta a.v) prod_j (1 + exp(beta (b + v W)_j))."""
    log_p = beta * STATES @ A + np.logaddexp(0.0, beta * (STATES @ W + B)).sum(1)
    return np.exp(log_p - logsumexp(log_p))


def tempered_free_energy_marginal(beta):
    """exp(-beta F(v)) / Z_beta: the target of a sampler that tempers the free energy instead
    of the joint energy; a different distribution when beta != 1."""
    log_p = beta * (STATES @ A + np.logaddexp(0.0, STATES @ W + B).sum(1))
    return np.exp(log_p - logsumexp(log_p))


def run_tempered_chains(n_chains, n_steps, seed):
    """Final states (K, n_chains, 3) of the PT chains from uniform random bits, and the swap
    acceptance rate of every step."""
    settings = training.Settings.of(RBM(3, method="pcd", k=1, n_temperatures=len(BETAS)))
    params = [torch.tensor(x, dtype=torch.float32) for x in (W, A, B)]
    generator = torch.Generator().manual_seed(seed)
    chains = (torch.rand((len(BETAS), n_chains, 3), generator=generator) < 0.5).float()
    rates = []
    for step in range(n_steps):
        chains, accept = training.tempered_negative_phase(
            chains, *params, settings, step % 2, generator
        )
        rates.append(accept.float().mean().item())
    return chains.numpy(), rates


def counts(states):
    index = (states @ (2 ** np.arange(3)[::-1])).astype(int)  # row k of STATES has bits of k
    return np.bincount(index, minlength=8)


@pytest.fixture(scope="module")
def tempered():
    return run_tempered_chains(n_chains=50_000, n_steps=60, seed=0)


def test_each_temperature_samples_its_exact_tempered_marginal(tempered):
    chains, _ = tempered
    for k, beta in enumerate(BETAS):
        observed = counts(chains[k])
        expected = tempered_marginal(beta) * observed.sum()
        assert chisquare(observed, expected).pvalue > 1e-3, (beta, observed, expected.round())


def test_the_chi_square_test_has_power(tempered):
    """The same draws reject the free-energy-tempered marginal at beta = 1/3 (the two targets
    differ by a few percent per state here), so the check above is not vacuous."""
    chains, _ = tempered
    observed = counts(chains[2])
    wrong = tempered_free_energy_marginal(BETAS[2]) * observed.sum()
    assert np.abs(wrong / observed.sum() - tempered_marginal(BETAS[2])).max() > 0.01
    assert chisquare(observed, wrong).pvalue < 1e-6


def exact_swap_acceptance(beta_cold, beta_hot):
    """E[min(1, exp((beta_i - beta_j)(E(x) - E(y))))] for x ~ p_beta_i(v, h), y ~ p_beta_j(v, h)
    independent: the stationary state of PT is the product of the tempered joints."""
    joint = np.array(list(itertools.product((0.0, 1.0), repeat=6)))  # (64, 6): v then h
    v, h = joint[:, :3], joint[:, 3:]
    energy = -(v @ A) - (h @ B) - np.einsum("si,ij,sj->s", v, W, h)
    p_cold, p_hot = (np.exp(-beta * energy - logsumexp(-beta * energy)) for beta in
                     (beta_cold, beta_hot))  # fmt: skip
    accept = np.minimum(1.0, np.exp((beta_cold - beta_hot) * (energy[:, None] - energy[None])))
    return p_cold @ accept @ p_hot


def test_swap_rates_match_the_exact_stationary_acceptance(tempered):
    """Even steps propose the pair (1, 2/3), odd steps (2/3, 1/3); after 20 steps of burn-in
    each step's rate over 50,000 chains has a standard error of about 0.002."""
    _, rates = tempered
    for parity, (cold, hot) in enumerate(((0, 1), (1, 2))):
        observed = np.mean(rates[20 + parity :: 2])
        assert observed == pytest.approx(exact_swap_acceptance(BETAS[cold], BETAS[hot]),
                                         abs=0.005)  # fmt: skip


def test_swap_acceptance_matches_the_closed_form():
    """One hand-made pair, copied 200,000 times: beta 1 and 1/2 with joint energies -3 (cold)
    and -1 (hot): accepted with probability min(1, exp((1 - 1/2)(-3 + 1))) = e^-1; the
    reversed energies are always accepted."""
    n = 200_000
    betas = torch.tensor([1.0, 0.5])
    chains = torch.stack([torch.zeros(n, 3), torch.ones(n, 3)])  # cold: 000, hot: 111
    generator = torch.Generator().manual_seed(1)
    energies = torch.tensor([-3.0, -1.0])[:, None].expand(2, n)
    swapped, accept = training.swap(chains, energies, betas, 0, generator)
    p = min(1.0, np.exp((1.0 - 0.5) * (-3.0 - -1.0)))
    assert training.swap_log_ratio(1.0, 0.5, -3.0, -1.0) == pytest.approx(-1.0)
    assert abs(accept.float().mean().item() - p) < 4.5 * np.sqrt(p * (1 - p) / n)
    # accepted pairs exchanged their states, refused ones kept them
    np.testing.assert_array_equal(swapped[0, :, 0].numpy(), accept[0].float().numpy())
    np.testing.assert_array_equal(swapped[1, :, 0].numpy(), 1 - accept[0].float().numpy())
    _, always = training.swap(chains, energies.flip(0), betas, 0, generator)
    assert bool(always.all())


def test_swaps_alternate_between_even_and_odd_pairs():
    """Parity 1 on three temperatures swaps only (1, 2): the coldest chain is untouched."""
    n = 1000
    chains = torch.stack([torch.full((n, 3), float(k)) for k in range(3)])
    energies = torch.tensor([0.0, 5.0, -5.0])[:, None].expand(3, n)  # (1, 2) always accepted
    swapped, accept = training.swap(chains, energies, training.temperatures(3), 1,
                                    torch.Generator().manual_seed(0))  # fmt: skip
    assert accept.shape == (1, n) and bool(accept.all())
    np.testing.assert_array_equal(swapped[:, 0, 0].numpy(), [0.0, 2.0, 1.0])
