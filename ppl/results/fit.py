"""A fitted model: q's draws in the constrained space, summaries, the ELBO."""
import numpy as np

from . import evidence
from ..inference.final import final_elbo, khat_judged_up_to, log_weights, log_weights_at
from ..inference.result import Result
from ..inference.settings import Settings
from ..inference.stochastic.run import optimise
from . import diagnosis, interop
from ..inference import psis
from ..inference import budget, linear_response
from ..inference.guide_for import guide_for
from .display import fit_html
from .summary import summarise
from ..errors import PPLError, PPLRuntimeError


_NOT_YET = object()       # Fit._linear_response before it is computed (None is an answer: it does not apply)


class Fit:
    """The result of Model.fit: q over the latents, point values of the params, the ELBO."""

    def __init__(self, model, compiled, guide, result, seed, method="stochastic"):
        self.model = model
        self.result = result              # what the optimiser returned, as Fit.save writes it
        self.method = method
        self.compiled = compiled
        self.guide = guide
        self.phi = result.phi
        self.theta = result.theta
        self.elbo = result.elbo
        self.elbo_se = result.elbo_se
        self.elbo_trace = np.asarray(result.trace)
        self.warmup_steps = result.warmup_steps     # the trace's first entries: L-BFGS on fixed draws
        self.status = result.status
        self.message = result.message
        self.grad_evals = result.grad_evals
        self.seconds = result.seconds
        self.warnings = list(compiled.bound.warnings) + list(compiled.warnings) + list(result.warnings)
        self.seed = seed
        self.mc_error = result.mc_error   # dadvi: s.e. of q's parameters over the choice of fixed draws
        self.warm_start = None            # warmstart.WarmStart when Model.fit started from an earlier fit
        self.guide_choice = None          # with guide="auto": which guide answered, and why
        self.batch_size = result.batch_size   # rows per step of minibatch SVI (0: all of them)
        self._summary = None
        self._linear_response = _NOT_YET
        self._log_weights = np.asarray(result.log_weights)   # at the final draws behind ELBO and k-hat
        self.khat, self.kl_gap = float("nan"), None
        if len(result.log_weights) >= 20:
            estimate = evidence.psis_log_evidence(result.log_weights)[0]
            self.khat = psis.khat(result.log_weights)
            self.kl_gap = estimate - self.elbo   # about KL(q || posterior)
        # with a fair or poor k-hat at an optimum: the latents q misses most (a sentence), and k-hat's warning
        self.missed, warning, self._miss_line = diagnosis.judge(self)
        for w in (warning, diagnosis.below_resolution(self)):
            if w:
                self.warnings.append(w)

    @property
    def sampled(self):
        """Does q have anything to draw (continuous or count latents), or is it exact (only summed-out
        discrete latents, whose conditional posteriors are computed, not drawn)?"""
        return bool(self.compiled.dim or self.compiled.counts)

    @property
    def converged(self):
        return self.status == "converged"

    def _rng(self, seed, stream):
        return np.random.default_rng([self.seed if seed is None else seed, stream])

    def unconstrained_draws(self, n, seed=None):
        eps = self._rng(seed, 1).standard_normal((n, self.guide.noise_dim))
        with np.errstate(all="ignore"):       # a q whose sds overflow: its summaries say so, by name
            return np.asarray(self.guide.sample(self.phi, eps))

    def _elements(self):
        """Float64 values in one draw of draws(): q's noise, the latents and the derived quantities (the params
        and the data are not copied per draw)."""
        c = self.compiled
        return self.guide.noise_dim + c.dim + c.count_dim + sum(int(np.prod(s)) for _, s in c.derived) + \
            sum(int(np.prod(site.shape)) for site in c.discrete)

    def draws(self, n=1000, seed=None):
        """n draws from q of every latent, param and derived quantity: name -> array (n, *shape).
        Discrete latents are drawn from their exact conditional posterior given each draw of q."""
        if budget.draws_within(n, self._elements()) < n:
            raise PPLRuntimeError("%d draws of this model's %d values each do not fit in the memory this machine "
                                  "has free" % (n, self._elements()), hint="ask for fewer draws")
        z = self.unconstrained_draws(n, seed)
        with np.errstate(all="ignore"):
            return self.compiled.values(z, self.theta, rng=self._rng(seed, 4))

    def discrete_posterior(self, name, draws=1000, seed=None):
        """A discrete latent's posterior, element by element: array (*shape, K), P(name[n] = k | data)
        for its K values (0..K-1, or lower..upper when its type declares bounds). It is exact given the rest of the model, averaged over draws of q of the continuous latents
        (for a mixture fitted by EM, exactly the responsibilities)."""
        sites = {site.name: site for site in self.compiled.discrete}
        if name not in sites:
            raise PPLError("'%s' is not a discrete latent of this model" % name,
                           hint="discrete latents: " + (", ".join(sites) or "none"))
        z = self.unconstrained_draws(draws if self.sampled else 1, seed)
        with np.errstate(all="ignore"):
            _, probs = self.compiled.discrete_posteriors(z, self.theta)
        return probs[name].mean(axis=0)

    def held_out(self, data, seed=None, max_steps=None, max_seconds=None):
        """The fitted model on other data (held-out rows, say) with the params held at their fitted
        values: a Fit whose ELBO is a lower bound on log p(data | params). With an amortised guide, q
        over the new rows is the encoder's output, not refitted (the other latents keep their q);
        otherwise q over the new data's latents is fitted afresh, as Model.fit would, params fixed."""
        for name, value in (("max_steps", max_steps), ("max_seconds", max_seconds), ("seed", seed)):
            if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                          and value >= 0):
                raise PPLError("held_out(%s=%r): it takes a non-negative number" % (name, value))
        if getattr(self.guide, "inner", None) is not None and hasattr(self.guide.inner, "for_data"):
            raise PPLError("held_out cannot evaluate an amortised guide together with count latents yet",
                           hint="fit without amortize to evaluate held-out data by refitting q")
        compiled = self.model.bind(data)
        seed = self.seed if seed is None else int(seed)
        s = Settings()
        if max_steps is not None:
            s.max_steps = int(max_steps)
        if max_seconds is not None:
            s.max_seconds = float(max_seconds)
        if hasattr(self.guide, "for_data"):
            guide = self.guide.for_data(compiled)
            rng = np.random.default_rng([seed, 5])
            log_w, value, se = final_elbo(compiled, guide, self.phi, self.theta, rng, s)
            result = Result(self.phi, self.theta, value, se, [], "converged", "q from the encoder, not refitted", 0,
                            0.0, [], log_w)
        else:
            guide = guide_for(compiled, self.guide.name, self.guide.rank, seed=seed)
            result = optimise(compiled, guide, seed=seed, settings=s, params=self.theta)
        return Fit(self.model, compiled, guide, result, seed, self.method)

    def posterior_predictive(self, n=1000, seed=None):
        """Replicated data from the posterior predictive: data name -> array (n, *shape)."""
        z = self.unconstrained_draws(n, seed)
        _, replicas = self.compiled.simulate(self._rng(seed, 2), n, z=z, theta=self.theta)
        return replicas

    def summary(self, n=4000, corrected=False, linear_response=False):
        """Mean, sd and 5/50/95% quantiles of every element, from n draws of q.

        corrected=True weights the draws by Pareto-smoothed importance weights p/q, which moves
        the summaries from q towards the posterior; it is refused when k-hat is above 0.7, where
        the weights cannot be trusted. linear_response=True (mean-field fits): draws of a Normal with
        q's means and its linear-response covariance (fit.covariance()), whose sds and correlations
        are a Gaussian posterior's where mean-field q's own are too small."""
        if corrected:
            return self._corrected_summary(max(n, 10000))
        if linear_response:
            return self._linear_response_summary(n)
        if self._summary is None:
            fits = budget.draws_within(n, self._elements())     # a model with millions of values: fewer draws
            self._summary = self._summarise(self.draws(fits), fits, None,
                                            None if fits == n else "from %d draws of q (as many as memory holds)" % fits)
        return self._summary

    def _corrected_summary(self, n):
        z = self.unconstrained_draws(n, None)
        log_w = log_weights_at(self.compiled, self.guide, self.phi, self.theta, z)
        with np.errstate(all="ignore"):
            draws = self.compiled.values(z, self.theta)
        k = psis.khat(log_w)
        estimate, _, _ = evidence.psis_log_evidence(log_w)
        if psis.is_poor(k, estimate - np.mean(log_w)):
            raise PPLRuntimeError("k-hat is %.2f: importance weights cannot correct this q" % k,
                                  hint="fit a better q first (guide='fullrank', or reparameterise)")
        smoothed, _ = evidence.stabilised_log_weights(log_w)
        w = np.exp(smoothed - smoothed.max())
        return self._summarise(draws, n, w / w.sum(),
                               "PSIS-corrected summaries (importance weights p/q, k-hat %.2f)" % k)

    def linear_response_covariance(self):
        """Mean-field q's linear-response covariance (inference.linear_response), or None where it does
        not apply; computed once: the report, guide="auto" and covariance() all read it."""
        if self._linear_response is _NOT_YET:
            self._linear_response = linear_response.covariance(self.compiled, self.guide, self.phi, self.theta,
                                                               self.seed)
        return self._linear_response

    def covariance(self):
        """The covariance of the unconstrained latents, (D, D), in the order of q's coordinates: for
        mean-field q its linear-response correction where it can be computed (up to 200 coordinates,
        at an optimum), else q's own covariance. Returns (matrix, what it is)."""
        lr = self.linear_response_covariance()
        if lr is not None:
            return lr, "linear response (mean-field q corrected by the ELBO's Hessian)"
        z = self.unconstrained_draws(20000, 7)[:, :self.guide.dim]
        return np.cov(z.T).reshape(self.guide.dim, self.guide.dim), "q's own (from 20,000 draws)"

    def _linear_response_summary(self, n):
        cov = self.linear_response_covariance()
        if cov is None:
            mean_field = self.guide.name == "meanfield"
            raise PPLRuntimeError("no linear-response covariance for this fit: " + (
                "it needs mean-field q over at most 200 coordinates, at an optimum of the ELBO" if mean_field else
                "it corrects mean-field q, and this q (%s) has a covariance of its own" % self.guide.name),
                hint="fit.summary() is q's own" + ("; guide='fullrank' fits the covariance directly" * mean_field))
        mean = np.asarray(self.guide.mean_sd(self.phi)[0], dtype=float)
        z = self._rng(None, 6).multivariate_normal(mean, cov, size=n, method="eigh")
        with np.errstate(all="ignore"):
            draws = self.compiled.values(z, self.theta, rng=self._rng(None, 4))
        return self._summarise(draws, n, None, "linear-response summaries: mean-field q's means, its covariance "
                                               "corrected (Giordano, Broderick & Jordan 2018)")

    def _summarise(self, draws, n, weights, title=None):
        c = self.compiled
        groups = [(b.name, b.shape, "latent") for b in c.latents + c.counts] + \
                 [(b.name, b.shape, "param") for b in c.params] + \
                 [(name, shape, "derived") for name, shape in c.derived]
        return summarise(draws, groups, n, weights, title)

    def mc_error_in_sds(self):
        """The largest Monte Carlo standard error of q's means (deterministic method), in q's sds."""
        m, sd = self.guide.mean_sd(self.phi)
        return float(np.max(self.mc_error[:self.guide.dim] / np.asarray(sd)))

    def params(self):
        """The fitted point values of the params: name -> array."""
        values = self.compiled.values(np.zeros((1, self.compiled.dim + self.compiled.count_dim)), self.theta)
        return {b.name: values[b.name][0] for b in self.compiled.params}

    def evidence(self, draws=None, k=50, seed=None):
        """Estimates of log p(x): the ELBO, the importance-weighted bound IWAE_k and a Pareto-smoothed
        importance sampling estimate, each with its Monte Carlo standard error. By default from the
        draws of q behind the fit's ELBO and k-hat (so the numbers agree); from `draws` fresh ones if
        given."""
        if not (isinstance(k, int) and k >= 1) or not (draws is None or (isinstance(draws, int) and draws >= 2 * k)):
            raise PPLError("evidence(draws=%r, k=%r): k must be a whole number of at least 1 and draws at least "
                           "2k" % (draws, k), hint="IWAE_k averages groups of k draws and needs two groups or more")
        flat = self.compiled.flat_priors
        if draws is None and seed is None and len(self._log_weights) >= 2 * k:
            return evidence.estimate(self._log_weights, k, flat, self.guide.name)
        log_w = log_weights(self.compiled, self.guide, self.phi, self.theta, self._rng(seed, 3),
                                  draws or max(10000, 2 * k))
        return evidence.estimate(log_w, k, flat, self.guide.name)

    def _bound_on(self):
        if self.compiled.flat_priors:
            return "a lower bound on the unnormalised log p(data) (flat priors on %s)" % (
                ", ".join(self.compiled.flat_priors))
        return "a lower bound on log p(data)"

    def report(self, max_rows=None, summary=None):
        """What the CLI prints after a fit: the table (summary, by default q's own; cut at max_rows),
        the bound, the status."""
        lines = [(summary or self.summary()).format(max_rows), ""]
        if self.sampled:
            lines.append("ELBO %.3f (Monte Carlo s.e. %.3f, from %d draws of q): %s" % (
                self.elbo, self.elbo_se, len(self._log_weights), self._bound_on()))
        else:
            lines.append("ELBO %.3f = log p(data%s): with no continuous latents the bound is exact" % (
                self.elbo, " | params" if self.compiled.params else ""))
        if self.method == "em":
            lines.append("%s after %d EM iterations (%d gradient evaluations in M-steps) in %.2f s" % (
                self.status, len(self.elbo_trace) - 1, self.grad_evals, self.seconds))
        else:
            lines.append("%s after %d gradient evaluations in %.2f s (%s guide)" % (
                self.status, self.grad_evals, self.seconds, self.guide.name))
        if self.guide_choice is not None:
            lines.append("guide chosen: " + self.guide_choice)
        if self.warm_start is not None:
            lines.append(self.warm_start.describe())
        khat_shown = self.sampled or not self.compiled.discrete
        if self.batch_size:
            lines.append("minibatches of %d rows: the ELBO and its s.e. are estimated on them; no k-hat (fit.evidence() "
                         "reads all rows)" % self.batch_size)
        elif khat_shown:
            lines.append("k-hat %.2f: %s%s" % (self.khat, psis.verdict(self.khat, self.kl_gap, self.guide.name),
                                                _judged(len(self._log_weights))))
            if self._miss_line:
                lines.append("where q misses: " + self.missed)
        for site in self.compiled.discrete:
            lines.append("%s: discrete, %d values, summed out exactly; its posterior: fit.discrete_posterior('%s')"
                         % (site.name, site.size, site.name))
        for site in self.compiled.counts:
            lines.append("%s: a count (%s prior); q over it is a discretised logistic, fitted by score-function "
                         "gradients" % (site.name, site.family))
        if self.mc_error is not None and self.guide.dim:
            worst = self.mc_error_in_sds()
            lines.append("fixed-draw Monte Carlo error: up to %.3f posterior sds in a mean" % worst)
        for w in self.warnings:
            if not (khat_shown and w.startswith("k-hat")):     # said on the k-hat line already
                lines.append("warning: " + w)
        return "\n".join(lines)

    def _repr_html_(self):
        return fit_html(self)

    def plot_elbo(self, ax=None):
        """The ELBO trace with the evidence estimate above it (matplotlib): the gap is about KL(q || p)."""
        from .plots import plot_elbo
        return plot_elbo(self, ax)

    def plot_posterior(self, names=None, n=4000):
        """Histograms (scalars) and interval plots (arrays) of q's marginals (matplotlib). Returns the figure."""
        from .plots import plot_posterior
        return plot_posterior(self, names, n)

    def to_arviz(self, n=1000, seed=None):
        """arviz.InferenceData: posterior (n draws of q, one chain), observed_data, posterior_predictive,
        sample_stats (lp, log_q per draw; the ELBO trace; the ELBO, its s.e. and k-hat as attributes)."""
        return interop.to_arviz(self, n, seed)

    def save(self, path):
        """Write this fit to a file (.npz: arrays, and the model text, data and settings as JSON; no
        pickle), to be read back by ppl.load_fit(path)."""
        from .saving import save_fit
        save_fit(self, path)

    def to_json(self):
        return {"summary": self.summary().to_dict(), "elbo": self.elbo, "elbo_se": self.elbo_se,
                "status": self.status, "message": self.message, "grad_evals": self.grad_evals,
                "seconds": self.seconds, "seed": self.seed, "guide": self.guide.name, "method": self.method,
                "khat": self.khat, "flat_priors": list(self.compiled.flat_priors),
                "warnings": self.warnings}

    def __repr__(self):
        return "<Fit %s: ELBO %.3f ± %.3f, %d latent dims, %s>" % (
            self.model.name, self.elbo, self.elbo_se, self.guide.dim, self.status)


def _judged(n):
    """What so few draws mean for k-hat, where they cannot judge the 0.7 that matters."""
    if not n or khat_judged_up_to(n) >= 0.7:
        return ""
    return " (from %d draws, which judge a k-hat up to %.2f)" % (n, khat_judged_up_to(n))
