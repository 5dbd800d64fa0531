"""Advice written for the front end in use. The engine's warnings and hints name Model.fit's options
and a Fit's methods in Python's terms (guide='fullrank', raise max_steps, fit.summary(corrected=True));
the command line and the REPL reword them into their own flags and commands before showing them, so a
person is never told to type what their front end does not take."""
import re

# Python's terms (a pattern), the command line's, the REPL's (None: left as it is)
PHRASES = [
    (r"guide='(\w+)'", r"--guide \1", r":fit guide=\1"),
    (r"method='(\w+)'", r"--method \1", r":fit method=\1"),
    (r"\bmax_steps\b", "--steps", "steps"),          # (names, not commands: they also stand in
    (r"\bdadvi_draws\b", "--dadvi-draws", "draws"),  # "fit option max_steps=-1 is not valid")
    (r"\bbatch_size\b", "--batch-size", None),
    (r"\brank=(\w+)", r"--rank \1", None),
    (r"fit\.summary\(corrected=True\)", "--summary corrected", ":summary corrected"),
    (r"fit\.summary\(linear_response=True\)", "--summary linear-response", ":summary linear-response"),
    (r"fit\.summary\(\)", "--summary q", ":summary"),
    (r"fit\.discrete_posterior\('(\w+)'\)", r"ppl.load_fit(...).discrete_posterior('\1') in Python", None),
]
CLI, REPL = 1, 2


def _reworded(text, column):
    for row in PHRASES:
        if row[column] is not None:
            text = re.sub(row[0], row[column], text)
    return text


def for_cli(text):
    """Python's terms -> the command line's flags."""
    return _reworded(text, CLI)


def for_repl(text):
    """Python's terms -> the REPL's commands."""
    return _reworded(text, REPL)
