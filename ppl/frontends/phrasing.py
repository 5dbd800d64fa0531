"""Advice written for the front end in use. The engine's warnings and hints name Model.fit's options
and a Fit's methods in Python's terms (guide='fullrank', raise max_steps, fit.summary(corrected=True));
the command line and the REPL reword them into their own flags and commands before showing them, so a
person is never told to type what their front end does not take."""
import re

CLI = [
    (r"guide='(\w+)'", r"--guide \1"),
    (r"method='(\w+)'", r"--method \1"),
    (r"\bmax_steps\b", "--steps"),
    (r"\bdadvi_draws\b", "--dadvi-draws"),
    (r"\bbatch_size\b", "--batch-size"),
    (r"fit\.summary\(corrected=True\)", "--summary corrected"),
    (r"fit\.summary\(linear_response=True\)", "--summary linear-response"),
    (r"fit\.discrete_posterior\('(\w+)'\)", r"ppl.load_fit(...).discrete_posterior('\1') in Python"),
]

REPL = [
    (r"guide='(\w+)'", r":fit guide=\1"),
    (r"method='(\w+)'", r":fit method=\1"),
    (r"\bmax_steps\b", ":fit steps=N"),
    (r"\bdadvi_draws\b", "draws= (:fit method=dadvi draws=M)"),
    (r"fit\.summary\(corrected=True\)", ":summary corrected"),
    (r"fit\.summary\(linear_response=True\)", ":summary linear-response"),
]


def _reworded(text, table):
    for pattern, replacement in table:
        text = re.sub(pattern, replacement, text)
    return text


def for_cli(text):
    """Python's terms -> the command line's flags."""
    return _reworded(text, CLI)


def for_repl(text):
    """Python's terms -> the REPL's commands."""
    return _reworded(text, REPL)
