"""The time bound every fuzzed case is held to (tests/test_fuzz*.py): a case that takes longer is a hang.

Long runs (-m fuzz_long) are run on a quiet machine and hold each case, whatever it ends in, to 10 s.
The default run shares a loaded CI machine with the rest of the suite, so it allows 30 s; cases take
under 2 s on an idle machine."""
import time

DEFAULT_SECONDS, LONG_SECONDS = 30.0, 10.0
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
