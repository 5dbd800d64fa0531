"""The same model, data and seed give bit-identical results: in one process and in a fresh one."""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import ppl
from conftest import ROOT, example


def _fingerprint(fit):
    h = hashlib.sha256()
    for a in (fit.phi, fit.theta, fit.elbo_trace, [fit.elbo, fit.elbo_se, fit.khat]):
        h.update(np.ascontiguousarray(np.asarray(a, dtype=float)).tobytes())
    for name, arr in sorted(fit.draws(200).items()):
        h.update(name.encode() + np.ascontiguousarray(arr, dtype=float).tobytes())
    h.update(str(fit.summary()).encode())
    return h.hexdigest()


FIT = """
import hashlib, json, sys
import numpy as np
sys.path.insert(0, {tests!r})
import ppl
from test_determinism import _fingerprint
model = ppl.load({path!r})
with open({data!r}) as f:
    data = json.load(f)
print(_fingerprint(model.fit(data, seed=7, guide={guide!r}, method={method!r})))
"""


@pytest.mark.parametrize("name,guide,method", [("eight_schools", "meanfield", "stochastic"),
                                               ("linreg", "lowrank", "stochastic"),
                                               ("gmm", "meanfield", "em"),
                                               ("linreg", "fullrank", "dadvi")])
def test_same_seed_same_bits_in_this_process_and_a_fresh_one(name, guide, method):
    path, data = example(name)
    model = ppl.load(path)
    first = _fingerprint(model.fit(data, seed=7, guide=guide, method=method))
    assert _fingerprint(ppl.load(path).fit(data, seed=7, guide=guide, method=method)) == first
    script = FIT.format(tests=os.path.join(ROOT, "tests"), path=path, data=path[:-4] + ".json", guide=guide,
                        method=method)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == first


def test_another_seed_gives_other_bits():
    path, data = example("eight_schools")
    model = ppl.load(path)
    assert _fingerprint(model.fit(data, seed=1)) != _fingerprint(model.fit(data, seed=2))
