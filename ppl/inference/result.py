"""What every method returns: a Result, the fitted q and params with the ELBO and how the fit went."""
from dataclasses import dataclass, field


@dataclass
class Result:
    phi: object
    theta: object
    elbo: float
    elbo_se: float
    trace: list                    # ELBO estimate per step (warm start first, then stochastic)
    status: str                    # converged, step cap, interrupted
    message: str
    grad_evals: int                # gradients of the log joint, one per draw of z (Stan's count)
    seconds: float
    warnings: list = field(default_factory=list)
    log_weights: object = None     # log p(x, z) - log q(z) at the final draws, for diagnostics
    mc_error: object = None        # deterministic method: Monte Carlo s.e. of each variational parameter
    warmup_steps: int = 0          # the first entries of trace are the fixed-draw warm start's (L-BFGS)
    batch_size: int = 0            # rows per step, when the ELBO was estimated on minibatches (0: all rows)
    proper: bool = False           # the posterior has a mode with a positive definite Hessian (a Laplace start)
