"""The guard that keeps L-BFGS on an ELBO from shrinking a scale of q along with steps other coordinates
pay for (inference.scale_guard)."""
import os

import numpy as np

import ppl
from ppl.inference import guides
from ppl.inference.objective import ELBOObjective
from ppl.inference.scale_guard import scale_guard

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "scaling", "varying_intercepts.ppl")) as _f:
    INTERCEPTS = _f.read()


def _intercepts_data(groups, rows=20, seed=0):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), rows)
    a = rng.normal(1.0, 0.7, groups)
    return {"J": groups, "g": g, "y": a[g] + rng.normal(0, 1.5, g.size)}


def test_only_components_that_shrink_a_scale_whose_gradient_is_all_entropy_are_dropped():
    model = ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\nb ~ Normal(0, 1)\ny ~ Normal(mu, 1)\n").bind(
        {"y": np.zeros(3)})
    f = ELBOObjective(model, guides.make("meanfield", model.dim))
    project = scale_guard(f)
    x = f.guide.initial()                      # [m_mu, m_b, log s_mu, log s_b]
    # -ELBO's gradient in a log sd is -1 from the entropy plus the log joint's part
    g = np.array([0.5, -0.5, -1.0 + 0.05, -1.0 + 3.0])
    d = np.array([-1.0, 1.0, -2.0, -2.0])        # shrinks both scales; only log s_mu's gradient is all entropy
    out = project(x, d, g)
    assert np.array_equal(out, [-1.0, 1.0, 0.0, -2.0])
    assert g @ out < g @ d < 0                   # still a descent direction, a steeper one
    assert np.array_equal(project(x, -g, g), -g)          # steepest descent never climbs
    f.estimator = "stl"                          # its entropy gradient is noisy: nothing is dropped
    assert np.array_equal(project(x, d, g), d)


def test_the_warm_up_never_takes_a_scale_far_below_where_the_fit_ends():
    # Without the guard, L-BFGS on 16 fixed draws took q's log sd of mu 25 below where the fit ends on this
    # model (at 10,000 groups to 1e-67, which the fit never undid, and called converged); with it, 5 below
    # at the lowest, while q's sd of tau was still small
    data = _intercepts_data(1000)
    lowest = [np.inf]
    model = ppl.compile(INTERCEPTS)
    dim = 1003

    def monitor(x, evals):
        lowest[0] = min(lowest[0], x[dim])           # q's log sd of mu

    fit = model.fit(data, seed=0, guide="meanfield", monitor=monitor)
    final = np.log(fit.guide.mean_sd(fit.phi)[1][0])
    assert fit.status == "converged"
    assert lowest[0] > final - 8.0, (lowest[0], final)
