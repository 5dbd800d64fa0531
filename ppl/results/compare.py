"""Ranking fitted models by their estimated log evidence, log p(data | model)."""
import math
from dataclasses import dataclass, field

from ..inference import psis


@dataclass
class Comparison:
    rows: list       # (name, log evidence estimate, its s.e., which estimate, k-hat), best first
    unnormalised: list = field(default_factory=list)   # models whose log evidence is unnormalised (flat priors)

    def __str__(self):
        width = max(len("model"), max(len(r[0]) for r in self.rows))
        best = self.rows[0][1]
        lines = ["%-*s %14s %9s %12s %9s  %s" % (width, "model", "log p(data)", "s.e.", "vs best", "s.e.", "estimate")]
        for name, value, se, how, khat in self.rows:
            diff_se = math.hypot(se, self.rows[0][2]) if name != self.rows[0][0] else 0.0
            lines.append("%-*s %14.3f %9.3f %12.3f %9.3f  %s (k-hat %.2f)" % (
                width, name, value, se, value - best, diff_se, how, khat))
        lines.append("A difference of a few standard errors or less does not separate two models. "
                     "IWAE and the ELBO are lower bounds: a model whose q fits worse is penalised.")
        if self.unnormalised:
            lines.append("Not comparable: %s %s flat priors, so %s log p(data) is unnormalised (known only up to a "
                         "constant); give %s proper priors to compare models." % (
                             ", ".join(self.unnormalised), "has" if len(self.unnormalised) == 1 else "have",
                             "its" if len(self.unnormalised) == 1 else "their",
                             "it" if len(self.unnormalised) == 1 else "them"))
        return "\n".join(lines)


def compare(fits, names=None, draws=None, k=50):
    """Rank fits by estimated log evidence: the PSIS estimate where k-hat < 0.7, else the IWAE bound."""
    rows, unnormalised = [], []
    for i, fit in enumerate(fits):
        name = names[i] if names else getattr(fit.model, "name", "model %d" % (i + 1))
        ev = fit.evidence(draws=draws, k=k)
        if ev.flat_priors:
            unnormalised.append(name)
        if ev.khat < 0.7 or ev.psis - ev.elbo < psis.NEGLIGIBLE_GAP:
            rows.append((name, ev.psis, ev.psis_se, "PSIS", ev.khat))
        else:
            rows.append((name, ev.iwae, ev.iwae_se, "IWAE_%d bound" % k, ev.khat))
    rows.sort(key=lambda r: -r[1])
    return Comparison(rows, unnormalised)
