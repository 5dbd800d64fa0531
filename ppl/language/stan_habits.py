"""Hints for what a Stan user types first: the line that failed to parse, read for Stan's spelling, and
the ppl spelling shown. Each rule looks at the failing line and at what the parser stumbled on."""
import re

_STAN_TYPES = ("vector", "row_vector", "matrix", "real", "int", "simplex", "ordered", "positive_ordered",
               "unit_vector", "cov_matrix", "corr_matrix", "cholesky_factor_corr", "cholesky_factor_cov", "array")
_DECLARATION = re.compile(r"^(%s)\s*(<[^>]*>)?\s*(\[[^\]]*\])?\s*([A-Za-z_]\w*)\s*;?$" % "|".join(_STAN_TYPES))
_TYPE_WORDS = {"vector": "real[N]", "row_vector": "real[N]", "matrix": "real[N, K]",
               "cholesky_factor_corr": "cholesky_corr[K]", "array": "real[N] (or int[N])"}


def stan_hint(line, found):
    """A hint for the line `line` on which the parser found `found` (a character or a token's text),
    or None where nothing Stan-like is seen."""
    text = line.strip()
    if found == ";":
        return "a statement ends at the end of its line: drop the ';'"
    if re.search(r"_lp[dm]f\s*\(", text) and found == "|":
        return "Stan's normal_lpdf(y | mu, sigma) is logpdf(Normal(mu, sigma), y) here, one value per element; " \
               "sum(...) of it is Stan's"
    if found == "*" and "**" in text:
        return "a power is written with ^, as in x ^ 2"
    if re.match(r"^for\b", text) and (re.match(r"^for\s*\(", text) or re.search(r"\bin\s+[\w\s+\-*]+:", text)):
        return "a loop is `for i in range(N) { ... }` (i = 0..N-1: Stan's 1:N, counted from 0) or range(a, b)"
    if found in _TYPE_WORDS:
        return "ppl's types are real, int, real[N] (Stan's vector[N]), real[N, K] (matrix[N, K]), simplex[K], " \
               "ordered[K], cholesky_corr[K]; %s is %s here" % (found, _TYPE_WORDS[found])
    m = _DECLARATION.match(text)
    if m:
        word, bounds, dims, name = m.groups()
        base = {"cholesky_factor_corr": "cholesky_corr"}.get(word, word)
        if base in ("vector", "row_vector", "matrix", "array"):
            base = "real"
        typ = base + (bounds or "") + (dims or "")
        return ("Stan's `%s` is `data %s: %s` here (or `latent %s: %s`, `param %s: %s`): the name comes first" % (
            text.rstrip(";").strip(), name, typ, name, typ, name, typ))
    return None


_STAN_DISTRIBUTIONS = {
    "normal": "Normal", "std_normal": "Normal(0, 1)", "student_t": "StudentT", "cauchy": "Cauchy",
    "double_exponential": "Laplace", "logistic": "Logistic", "lognormal": "LogNormal",
    "exponential": "Exponential", "gamma": "Gamma", "inv_gamma": "InverseGamma", "beta": "Beta",
    "uniform": "Uniform", "weibull": "Weibull", "dirichlet": "Dirichlet", "multi_normal": "MultivariateNormal",
    "multi_normal_cholesky": "MultivariateNormal(mu, scale_tril = L)", "lkj_corr_cholesky": "LKJCholesky",
    "bernoulli": "Bernoulli", "bernoulli_logit": "Bernoulli(logit = ...)", "binomial": "Binomial",
    "binomial_logit": "Binomial(n, logit = ...)", "poisson": "Poisson", "poisson_log": "Poisson(log_rate = ...)",
    "neg_binomial_2": "NegativeBinomial", "categorical": "Categorical",
    "categorical_logit": "Categorical(logits = ...)",
}


def stan_name_hint(name):
    """A hint for an unknown function or distribution that is Stan's name for one of ours, or None."""
    m = re.match(r"^(\w+?)_(lpdf|lpmf|lupdf|lupmf)$", name)
    if m and m.group(1) in _STAN_DISTRIBUTIONS:
        ours = _STAN_DISTRIBUTIONS[m.group(1)]
        call = ours if "(" in ours else ours + "(...)"
        return "Stan's %s(y | ...) is logpdf(%s, y) here (one value per element; sum it for Stan's)" % (name, call)
    if name in _STAN_DISTRIBUTIONS:
        ours = _STAN_DISTRIBUTIONS[name]
        return "Stan's %s is %s here%s" % (name, ours, "" if "(" in ours else ": distributions are capitalised")
    return None
