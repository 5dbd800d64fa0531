"""A guard for L-BFGS on an ELBO against shrinking a scale of q without end.

Where q's sd along a coordinate is far below what the log joint's curvature there asks for, the ELBO
is linear in its log sd (the entropy's slope is all that is left), so the quasi-Newton model holds no
curvature along it and lets the coordinate ride along with steps that other coordinates pay for. On
a varying-intercept model of 10,000 groups, L-BFGS on fixed draws lowered the log sd of the population
mean by 2 (its change cap) at each of 150 iterations while that coordinate's own gradient pointed up
all the while; q's sd ended at 1e-67 where the optimum is 7e-3, which no later stage could undo. A
direction's component that lowers such a scale is dropped: the rest is still a descent direction."""
import numpy as np

ENTROPY_SHARE = 0.1     # the log joint's part of a scale's gradient, below this share of the entropy's


def scale_guard(f):
    """project(x, d, g) for lbfgs: d without the components that shrink a scale of q whose gradient is
    almost all entropy (that of the log joint is below ENTROPY_SHARE of it); d as it is where f cannot
    say which part of its gradient is the entropy's."""
    def project(x, d, g):
        h = f.entropy_gradient(x)
        if h is None:
            return d
        entropy_only = (h != 0) & (np.abs(g - h) < ENTROPY_SHARE * np.abs(h))
        climbing = entropy_only & (d * g > 0)
        if not climbing.any():
            return d
        d = d.copy()
        d[climbing] = 0.0
        return d
    return project
