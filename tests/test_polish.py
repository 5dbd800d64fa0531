"""The stochastic method's polish (ppl.inference.stochastic.polish): L-BFGS on more and more
quasi-random draws from refinement's answer. On an AR(1) state-space model, whose ELBO is nearly flat
along the observation noise against all the states, refinement alone stops most of q's sd from the
exact mean-field optimum (tests/exact/ar1_100.json, from benchmarks/scaling_models.py); polished,
every mean is within 0.1 sd and every sd within 10%. Where refinement had it right, its answer stands."""
import json
import os

import numpy as np

import ppl
from ppl.compiler.compiled import CompiledModel
from ppl.inference.settings import Settings
from ppl.inference.stochastic import polish

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "examples", "scaling", "noisy_ar1.ppl")) as _f:
    AR1 = _f.read()


def _worst(fit, ref):
    mean, sd = (np.asarray(v, dtype=float) for v in fit.guide.mean_sd(fit.phi))
    return np.max(np.abs(mean - ref["mean"]) / ref["sd"]), np.max(np.abs(sd / ref["sd"] - 1))


def test_the_polish_takes_a_flat_direction_to_the_exact_meanfield_optimum(monkeypatch):
    with open(os.path.join(HERE, "exact", "ar1_100.json")) as f:
        ref = {k: np.asarray(v) if k != "about" else v for k, v in json.load(f).items()}
    model = ppl.compile(AR1)
    # every statement drawn: in expectation over q (compiler.expected) refinement lands on this optimum
    # itself (test_expected), and the polish has nothing left to do
    monkeypatch.setattr(CompiledModel, "has_expected_terms", property(lambda self: False))
    polished = model.fit({"y": ref["y"]}, seed=0, guide="meanfield")
    refined = model.fit({"y": ref["y"]}, seed=0, guide="meanfield", polish_budget=0)
    assert polished.converged and "quasi-random draws settled" in polished.result.message
    mean_off, sd_off = _worst(polished, ref)
    assert mean_off <= 0.1 and sd_off <= 0.1
    assert _worst(refined, ref)[0] > 2 * mean_off          # refinement alone: nu's mean is further off
    assert polished.elbo > refined.elbo - 2 * np.hypot(polished.elbo_se, refined.elbo_se)


def test_where_refinement_had_it_right_its_answer_stands():
    data = {"y": [0.3, -1.2, 0.8, 2.1, 0.4, -0.3, 1.7, 0.9, -0.8, 1.1]}
    model = ppl.compile("data y: real[N]\nmu ~ Normal(0, 5)\nsigma ~ HalfNormal(2)\ny ~ Normal(mu, sigma)\n")
    polished = model.fit(data, seed=1, guide="meanfield")
    refined = model.fit(data, seed=1, guide="meanfield", polish_budget=0)
    assert "quasi-random draws agreed with refinement" in polished.result.message
    assert np.array_equal(polished.phi, refined.phi)
    assert polished.grad_evals > refined.grad_evals


def test_the_draws_stay_within_the_budget():
    class Guide:
        min_fixed_draws = 1
    budget = Settings().polish_budget
    assert polish.draw_counts(100, Guide(), 2 ** 23) == [64, 256, 1024, 4096, 16384, 65536]
    assert polish.draw_counts(20004, Guide(), budget) == [64, 256, 1024, 4096]    # 10,000 states
    assert polish.draw_counts(21 * 10 ** 5, Guide(), budget) == []       # 100,000 rows of 20: not polished
    assert polish.draw_counts(2 ** 27 // 1024, Guide(), budget) == [64, 256, 1024]
    assert polish.draw_counts(2 ** 27 // 1024 + 1, Guide(), budget) == []   # two runs: nothing to compare
    assert polish.draw_counts(100, Guide(), 0) == []


class _Shifted:
    """-ELBO of a q whose means' optimum on fixed draws eps is TRUTH + 100 mean(eps): each run's answer is
    off by its draws' error, which shrinks as the draws grow (by about 1/M for quasi-random ones)."""
    TRUTH = np.array([1.0, -2.0])

    class model:
        data_size = 2 ** 27 // 2000 - 3         # within the budget: 64, 256 and 1,024 draws, not 4,096

    class guide:
        min_fixed_draws, noise_dim, dim, size = 2, 2, 2, 2

        @staticmethod
        def step_limit(x):
            return np.ones(2)

        @staticmethod
        def mean_sd(x):
            return x, np.ones(2)

    def entropy_gradient(self, x):
        return None

    def __call__(self, x, eps):
        r = x - self.TRUTH - 100 * eps.mean(axis=0)
        return 0.5 * float(r @ r), r


def test_where_the_budget_ends_while_the_runs_still_move_less_each_time_the_last_run_is_the_answer():
    f, refined = _Shifted(), _Shifted.TRUTH + 2.0         # refinement's answer 2 sds off (a step-size bias)
    answer, (draws, before), change = polish.polish(f, f.guide, refined, Settings(), lambda: None)
    assert (before, draws) == (256, 1024) and polish.SETTLED < change < 2.0
    assert np.max(np.abs(answer - _Shifted.TRUTH)) < 0.1


def test_beyond_sobol_s_dimensions_the_polish_draws_independent_normals():
    # a mean-field q over 22,000 latents with little data reached the polish, and the fit ended in an error
    # about dadvi_rqmc, an option of another method
    from ppl.inference.dadvi import SOBOL_DIMS
    rng = np.random.default_rng(0)
    wide = polish.even_draws(64, SOBOL_DIMS + 1, rng)
    assert wide.shape == (64, SOBOL_DIMS + 1) and np.all(np.isfinite(wide))
    assert abs(np.std(wide) - 1) < 0.01
    assert polish.even_draws(64, 3, rng).shape == (64, 3)


def test_draws_taken_in_blocks_give_the_whole_set_s_value_and_gradient():
    from ppl.inference import guides
    from ppl.inference.objective import ELBOObjective
    rng = np.random.default_rng(3)
    compiled = ppl.compile(AR1).bind({"y": rng.standard_normal(30)})
    q = guides.make("meanfield", compiled.dim)
    f = ELBOObjective(compiled, q)
    x = q.initial() + 0.3 * rng.standard_normal(q.size)
    eps = rng.standard_normal((10, q.noise_dim))
    whole_value, whole_grad = f(x, eps)
    value, grad = polish.blockwise(f, x, eps, per_draw=polish.BLOCK_ELEMENTS // 3)    # blocks of 3, 3, 3, 1
    assert abs(value - whole_value) <= 1e-12 * abs(whole_value)
    np.testing.assert_allclose(grad, whole_grad, rtol=1e-12, atol=1e-12 * np.max(np.abs(whole_grad)))
    assert f.evals == 20
