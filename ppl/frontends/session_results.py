"""The REPL session's commands on the fit: :fit, :summary, :elbo, :draws, :plot."""
import difflib

import numpy as np

from ..errors import PPLError
from ..results.display import element_labels
from .commands import FIT_OPTIONS
from .phrasing import for_repl
from .session_text import no_such
from .terminal import histogram, line_chart


class ResultCommands:
    """Mixed into Session: the commands that fit the model and show the fit."""

    def cmd_fit(self, args, progress=None):
        model = self._need_model()
        options = {}
        for word in args:
            key, eq, value = word.partition("=")
            if not eq or key not in FIT_OPTIONS:
                close = difflib.get_close_matches(key, list(FIT_OPTIONS), n=1)
                raise PPLError("`%s` is not a :fit option" % word,
                               hint=("did you mean %s=...? " % close[0] if close else "") +
                               "options: " + ", ".join(k + "=" for k in FIT_OPTIONS))
            try:
                options[key] = FIT_OPTIONS[key](value)
            except ValueError:
                raise PPLError(":fit %s=%s: %s takes %s" % (key, value, key, {
                    int: "a whole number", float: "a number", str: "a word"}[FIT_OPTIONS[key]])) from None
        warm = options.pop("warm", "yes").lower()
        if warm not in ("yes", "no"):
            raise PPLError(":fit warm=%s: warm takes yes or no" % warm)
        kwargs = {"seed": options.get("seed", 0), "guide": options.get("guide"),
                  "method": options.get("method", "stochastic"), "rank": options.get("rank"),
                  "max_steps": options.get("steps")}
        if "seconds" in options:
            kwargs["max_seconds"] = options["seconds"]
        if "draws" in options:         # the deterministic method's fixed draws
            kwargs["dadvi_draws"] = options["draws"]
        previous = self.fit if warm == "yes" else None
        fit = model.fit(self.data, progress=progress, warm_start=previous, **kwargs)
        self.fit = fit
        return for_repl(fit.report(max_rows=30))

    def cmd_summary(self, args):
        fit = self._need_fit()
        kind = args[0] if args and args[0] in ("corrected", "linear-response") else None
        args = args[1:] if kind else args
        summary = fit.summary(corrected=kind == "corrected", linear_response=kind == "linear-response")
        if not args:
            return str(summary)
        discrete = {site.name for site in fit.compiled.discrete}
        if len(args) == 1 and args[0] in discrete:
            return self._discrete_table(fit, args[0])
        known = summary.names() + sorted(discrete)
        for name in args:
            if name not in known:
                raise no_such(name, known)
        if any(name in discrete for name in args):
            raise PPLError(":summary shows a discrete latent on its own", hint=":summary %s" % next(
                name for name in args if name in discrete))
        return str(summary.select(args))

    def _discrete_table(self, fit, name, rows=20):
        """P(name[i] = k | data) per element: exact given q of the continuous latents, averaged over it."""
        probs = np.asarray(fit.discrete_posterior(name))
        flat = probs.reshape(-1, probs.shape[-1])
        site = next(site for site in fit.compiled.discrete if site.name == name)
        labels = element_labels(name, probs.shape[:-1])
        width = max(len(label) for label in labels[:rows])
        head = "%-*s" % (width, name) + "".join("%8s" % ("P=%d" % (site.first + k)) for k in range(flat.shape[1]))
        lines = ["posterior of the discrete latent %s (summed out exactly)" % name, head, "-" * len(head)]
        for label, p in zip(labels[:rows], flat[:rows]):
            lines.append("%-*s" % (width, label) + "".join("%8.3f" % v for v in p))
        if len(labels) > rows:
            lines.append("... %d more elements" % (len(labels) - rows))
        return "\n".join(lines)

    def cmd_elbo(self, args):
        fit = self._need_fit()
        if not fit.sampled:
            return "ELBO %.4f = log p(data%s) exactly: every latent is summed out, nothing is sampled" % (
                fit.elbo, " | params" if fit.compiled.params else "")
        ev = fit.evidence()
        lines = for_repl(str(ev)).split("\n")
        lines.append("  gap: IWAE - ELBO = %.3f, PSIS - ELBO = %.3f (about KL(q || posterior): how far q is "
                     "from the posterior, in nats)" % (ev.iwae - ev.elbo, ev.psis - ev.elbo))
        if fit.status != "converged":
            lines.append("  (the fit stopped early: %s)" % fit.message)
        return "\n".join(lines)

    @staticmethod
    def _element(draws, label):
        """One name's or one element's (`eta[3]`) column of draws, its label, and how many elements the
        name has."""
        name, _, rest = label.partition("[")
        if name not in draws:
            raise no_such(name, list(draws))
        values = np.asarray(draws[name], dtype=float)
        labels = element_labels(name, values.shape[1:])
        flat = values.reshape(len(values), -1)
        chosen = label if rest else labels[0]
        if chosen not in labels:
            raise PPLError("%s is not an element of %s, whose shape is [%s]" % (
                label, name, ", ".join(map(str, values.shape[1:]))), hint="elements are numbered from 0")
        return flat[:, labels.index(chosen)], chosen, len(labels)

    def cmd_draws(self, args):
        fit = self._need_fit()
        if not args or len(args) > 2:
            raise PPLError(":draws takes a name and, optionally, how many", hint=":draws tau 20")
        try:
            n = int(args[1]) if len(args) > 1 else 10
        except ValueError:
            raise PPLError(":draws %s: the count must be a whole number" % args[1]) from None
        if not 1 <= n <= 100000:
            raise PPLError(":draws: the count must be between 1 and 100000")
        name = args[0]
        draws = fit.draws(n)
        if name in draws:
            values = np.asarray(draws[name])
        else:                        # an element, eta[3], or an unknown name (which _element reports)
            values, name, _ = self._element(draws, name)
        shape = values.shape[1:]
        head = "%s: %d draw%s from the fit, %s each" % (name, n, "s" if n > 1 else "",
                                                        "shape [%s]" % ", ".join(map(str, shape)) if shape else "a scalar")
        with np.printoptions(precision=4, suppress=True, linewidth=100, threshold=200, edgeitems=4):
            body = str(values if values.ndim > 1 else values.reshape(-1))
        return head + "\n" + body

    def cmd_plot(self, args):
        fit = self._need_fit()
        if len(args) > 1:
            raise PPLError(":plot takes at most one name", hint=":plot tau, or :plot eta[3]")
        uni = self.unicode
        out = [line_chart(fit.elbo_trace, "ELBO at each step (%d steps, %s)" % (len(fit.elbo_trace), fit.status),
                          unicode=uni)]
        if args:
            label = args[0]
        else:
            latents = [b.name for b in fit.compiled.latents + fit.compiled.counts]
            label = latents[0] if latents else None
        if label is not None and fit.sampled:
            values, chosen, size = self._element(fit.draws(4000), label)
            note = " (element 0 of %d; :plot %s[i] for another)" % (size, label) if size > 1 and "[" not in label \
                else ""
            out.append("")
            out.append(histogram(values, "%s: %d draws from q, mean %.4g, sd %.4g%s" % (
                chosen, len(values), values.mean(), values.std(), note), unicode=uni))
        return "\n".join(out)
