"""What every fuzz file (tests/test_fuzz*.py) shares: the time bound a case is held to (a case that takes
longer is a hang), the rule that Python warnings fail a case, and hypothesis' settings.

Long runs (-m fuzz_long) are run on a quiet machine and hold each case, whatever it ends in, to 10 s.
The default run shares a loaded CI machine with the rest of the suite, so it allows 30 s; cases take
under 2 s on an idle machine."""
import time

import pytest
from hypothesis import HealthCheck, settings

# ppl speaks through PPLErrors and fit warnings, never Python's warnings: one from numpy, scipy or autograd
# reaching the user is a leak, and fails the case (autograd's constant-gradient note ppl silences itself, in
# ppl/model/__init__.py; pytest's filters would otherwise take precedence over that one)
WARNINGS_FAIL = pytest.mark.filterwarnings("error::RuntimeWarning", "error::UserWarning",
                                           "ignore:Output seems independent of input:UserWarning")

DEFAULT_SECONDS, LONG_SECONDS = 30.0, 10.0
SHORT_FIT = dict(max_steps=30, warmup_iters=6, final_draws=200, final_min_draws=200, average_steps=10, window=5)
slowest = {"seconds": 0.0, "case": None}


class Within:
    """`with Within(seconds, case):` fails the case if its body takes `seconds` or more, and keeps the
    slowest case seen, which the long runs print."""

    def __init__(self, seconds, case):
        self.seconds, self.case = seconds, case

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        took = time.perf_counter() - self.started
        if took > slowest["seconds"]:
            slowest.update(seconds=took, case=self.case)
        assert took < self.seconds, "took %.1f s: %s" % (took, repr(self.case)[:300])
        return False


def report(test_name):
    print("\n%s: slowest case %.2f s: %s" % (test_name, slowest["seconds"], repr(slowest["case"])[:300]))
    slowest.update(seconds=0.0, case=None)


def examples(test, n):
    """`test` run on n cases, the same ones on every run and machine (no example database)."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))(test)
