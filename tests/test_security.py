"""A model file is data, not code: whatever names or text it holds, compiling and fitting it never
executes Python, imports a module, opens a file, starts a process or touches the network. Checked
with an audit hook (PEP 578), which sees those actions wherever in the process they happen."""
import sys

import numpy as np
import pytest

import ppl

WATCHED = ("exec", "compile", "import", "open", "os.", "subprocess.", "socket.", "shutil.", "ctypes.",
           "pickle.", "marshal.", "urllib.", "http.", "builtins.input", "code.", "runpy.", "webbrowser.")
_events = []
_recording = [False]


def _hook(event, args):
    if _recording[0] and event.startswith(WATCHED):
        _events.append((event, repr(args)[:200]))


sys.addaudithook(_hook)      # cannot be removed; it records only while _recording is set


def _run_recorded(text, data):
    _events.clear()
    _recording[0] = True
    try:
        try:
            model = ppl.compile(text)
            fit = model.fit(data, max_steps=20, warmup_iters=5, final_draws=64, final_min_draws=64)
            fit.summary()
        except ppl.PPLError as err:
            str(err)
    finally:
        _recording[0] = False
    return list(_events)


ATTACKS = [
    '__import__("os").system("touch /tmp/ppl_pwned")',
    "__import__ ~ Normal(0, 1)",
    "x ~ Normal(__import__, 1)",
    "os = 1\nx ~ Normal(os, 1)",
    "x ~ Normal(eval(1), 1)",
    "x ~ Normal(exec(1), 1)",
    "x ~ Normal(open(1), 1)",
    "x ~ Normal(getattr(x, 1), 1)",
    "x ~ Normal(__builtins__, 1)",
    "__class__ ~ Normal(0, 1)\n__subclasses__ = __class__ * 2",
    "x ~ Normal(0, 1).__class__",
    "x ~ Normal(0, 1)\ny = x.__class__.__bases__",
    "x ~ Normal(0, 1) # __import__('os').system('id')",
    "x ~ Normal(0, 1)\n'{0.__class__}'.format(x)",
    '"%s" % x',
    "f'{__import__(\"os\")}'",
    "x ~ Normal(0, 1); import os",
    "import os\nx ~ Normal(0, 1)",
    "x ~ Normal(0, 1)\nlambda: 0",
    "x ~ Normal(0, 1)\n`id`",
    "x ~ Normal(0, 1)\n$(id)",
    "data __import__: real[N]\nmu ~ Normal(0, 1)\n__import__ ~ Normal(mu, 1)",
    "data os: real[N]\nsystem ~ Normal(0, 1)\nos ~ Normal(system, 1)",
    "data self: real[N]\n__init__ ~ Normal(0, 1)\nself ~ Normal(__init__, 1)",
    "data __dict__: real[N]\n__getattr__ ~ Normal(0, 1)\n__dict__ ~ Normal(__getattr__, 1)",
    "data np: real[N]\nanp ~ Normal(0, 1)\nnp ~ Normal(anp + exp(anp), 1)",
    "latent __globals__: real[N]\n__globals__ ~ Normal(0, 1)",
    "x ~ Normal(0, 1)\nfor __import__ in range(3) { __import__ ~ Normal(x, 1) }",
    "x ~ open(0, 1)",
    "x ~ __import__(0, 1)",
    "x ~ system(0, 1)",
    "x: real[__import__] ~ Normal(0, 1)",
    "x: real<lower=__import__> ~ Normal(0, 1)",
    "x ~ Normal(mu=0, __import__=1)",
]
DATA = {"__import__": [0.1, 0.2], "os": [0.1, -0.3], "self": [1.0, 2.0], "__dict__": [0.5, 0.6],
        "np": [0.0, 1.0], "N": 2}


@pytest.fixture(scope="module", autouse=True)
def warm_up():
    # load what a first fit loads lazily (scipy's special functions, say), so only the attacks are recorded
    ppl.compile("data y: real[N]\nmu ~ Normal(0, 1)\ny ~ Normal(mu, 1)").fit({"y": [0.1, 0.2]}, max_steps=20)


@pytest.mark.parametrize("text", ATTACKS)
def test_a_model_cannot_run_code_import_open_or_connect(text, tmp_path):
    data = {k: v for k, v in DATA.items() if ("data %s:" % k) in text}
    events = _run_recorded(text, data)
    assert events == [], events


def test_the_audit_hook_would_see_an_attack():
    # the check above is not vacuous: the same hook records what an exec of model text would do
    _events.clear()
    _recording[0] = True
    try:
        exec("import json")   # noqa: S102 - the test's own code, to show the hook fires
    finally:
        _recording[0] = False
    assert any(e == "exec" for e, _ in _events)


def test_dunder_and_module_names_are_plain_names():
    # names Python treats specially are ordinary model names: data, latents, derived quantities
    model = ppl.compile("data __import__: real[N]\n__class__ ~ Normal(0, 5)\nos = __class__ * 2\n"
                        "__import__ ~ Normal(__class__, 1)")
    fit = model.fit({"__import__": [1.0, 2.0, 3.0]}, seed=1)
    s = fit.summary()
    assert abs(s["os"]["mean"] - 2 * s["__class__"]["mean"]) < 1e-9 * (1 + abs(s["os"]["mean"]))
    assert np.isfinite(s["__class__"]["mean"])


def test_unknown_callables_are_check_errors_with_a_place():
    for name in ("eval", "exec", "open", "__import__", "getattr", "compile", "globals"):
        with pytest.raises(ppl.PPLCheckError) as info:
            ppl.compile("x ~ Normal(%s(1), 1)" % name)
        assert info.value.line == 1 and "^" in str(info.value)
