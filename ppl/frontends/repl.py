"""`ppl repl`: a Session at a terminal prompt, or fed a script on stdin.

At a terminal: prompts, line editing and history across sessions (GNU
readline, from the standard library), tab completion of commands, names,
distributions and file names, errors in colour, and Ctrl-C that stops a
running fit (keeping the best q so far) or abandons the line being typed.
With stdin not a terminal (`ppl repl < session.txt`) the same inputs give the
same results with no prompts, no colours and no progress line; the exit
status is 1 if any input failed.
"""
import glob
import os
import shlex
import signal
import sys
import threading

from ..version import __version__
from .options import METHODS
from ..inference.guide_for import NAMES as GUIDES
from ..model.distributions import DISTRIBUTIONS
from ..errors import PPLError
from ..model.functions import FUNCTIONS
from .commands import COMMANDS, FIT_OPTIONS
from .phrasing import for_repl
from .session import Quit, Session
from .terminal import Progress, unicode_ok

KEYWORDS = ["data", "param", "latent", "for", "in", "range", "real", "int", "simplex", "ordered", "positive_ordered", "cholesky_corr",
            "lower", "upper"]
PROMPT, CONTINUE = "ppl> ", "...> "


def needs_more(text):
    """Is this input unfinished: a bracket still open, or a line ending in a backslash?"""
    depth = 0
    for line in text.split("\n"):
        code = line.split("#", 1)[0]
        depth += sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
    return depth > 0 or text.rstrip(" \t").endswith("\\")


def inputs(read_line, prompt=PROMPT, more=CONTINUE):
    """Complete inputs from successive lines: a statement may go on over several lines until its
    brackets close. read_line(prompt) returns a line or raises EOFError."""
    while True:
        lines = [read_line(prompt)]
        while not lines[0].strip().startswith(":") and needs_more("\n".join(lines)):
            try:
                lines.append(read_line(more))
            except EOFError:
                break
        yield "\n".join(lines)


class Completer:
    """Tab completion for readline: what fits where the cursor is."""

    def __init__(self, session, readline):
        self.session, self.readline = session, readline
        self.matches = []

    def candidates(self, line, word):
        head = line.lstrip()
        if head.startswith(":") and " " not in head:
            return [c + " " for c in COMMANDS]       # (Python's readline appends nothing itself)
        command = head.split(" ", 1)[0]
        if command in (":load", ":data", ":save"):
            return [p + ("/" if os.path.isdir(p) else "") for p in glob.glob(os.path.expanduser(word) + "*")]
        if command == ":help":
            return list(COMMANDS) + [c[1:] for c in COMMANDS] + list(DISTRIBUTIONS) + list(FUNCTIONS)
        if command == ":fit":
            key, eq, _ = line.rsplit(" ", 1)[-1].partition("=")
            if eq:       # `=` separates words for readline: complete the value alone
                return {"guide": list(GUIDES) + ["auto"], "method": list(METHODS), "warm": ["yes", "no"]}.get(key, [])
            return [k + "=" for k in FIT_OPTIONS]
        if command in (":summary", ":draws", ":plot"):
            return self.session.fit.summary().names() if self.session.fit is not None else []
        return self.session.names() + [name + "(" for name in list(DISTRIBUTIONS) + list(FUNCTIONS)] + KEYWORDS

    def __call__(self, word, state):
        if state == 0:
            line = self.readline.get_line_buffer()[:self.readline.get_begidx()] + word
            try:
                self.matches = sorted(c for c in set(self.candidates(line, word)) if c.startswith(word))
            except Exception:      # a completer must never raise into readline
                self.matches = []
        return self.matches[state] if state < len(self.matches) else None


def _history_path():
    return os.environ.get("PPL_HISTORY") or os.path.join(os.path.expanduser("~"), ".ppl_history")


def _setup_readline(session):
    """Line editing, history and completion where readline exists; None where it does not."""
    try:
        import readline
    except ImportError:
        return None
    readline.set_completer_delims(" \t\n()[],=+-*/^@~<>")
    readline.set_completer(Completer(session, readline))
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
    readline.set_history_length(2000)
    try:
        readline.read_history_file(_history_path())
    except (OSError, UnicodeDecodeError):
        pass
    return readline


def _colours(stream):
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def run(session=None, stdin=None, stdout=None, stderr=None, load=None):
    """The loop. Returns the exit status."""
    term = _Terminal(session or Session(), stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr)
    readline = None
    if term.interactive:
        readline = _setup_readline(term.session)
        term.stdout.write("ppl %s: type model statements, NAME = [data], or :help; :quit or Ctrl-D to leave\n"
                          % __version__)
    try:
        if load:
            term.do(":load " + shlex.quote(load))
        term.loop()
    except BrokenPipeError:                # `ppl repl < script | head`: stop quietly
        try:                               # (and let Python's final flush go nowhere)
            os.dup2(os.open(os.devnull, os.O_WRONLY), term.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    finally:
        if readline is not None:
            try:
                readline.write_history_file(_history_path())
            except OSError:
                pass
    return 1 if term.failures and not term.interactive else 0


class _Terminal:
    """The REPL's streams: inputs read from them (with readline's prompts when interactive), each
    handed to the session, its output or error written back, and failures counted."""

    def __init__(self, session, stdin, stdout, stderr):
        self.session, self.stdin, self.stdout, self.stderr = session, stdin, stdout, stderr
        self.interactive = stdin.isatty() and stdout.isatty()
        session.unicode = unicode_ok(stdout)
        self.colour = self.interactive and _colours(stdout)
        self.red, self.bold, self.plain = ("\033[31m", "\033[1m", "\033[0m") if self.colour else ("", "", "")
        self.failures = 0

    def show_error(self, err):
        text = for_repl(str(err))
        first, _, rest = text.partition("\n")
        self.stderr.write(self.red + first + self.plain + ("\n" + rest if rest else "") + "\n")
        self.stderr.flush()

    def do(self, text):
        """One complete input, handed to the session; a mistake is shown and the session goes on."""
        progress = Progress(self.stderr) if self.interactive else None
        try:
            out = self.session.handle(text, progress=progress)
            if progress:
                progress.close()
            if out:
                self.stdout.write(out + "\n")
                self.stdout.flush()
        except PPLError as err:
            self.failures += 1
            self.show_error(err)
        except KeyboardInterrupt:
            self.failures += 1
            self.stderr.write("\ninterrupted; the model, the data and the last fit are as they were\n")
        except (Quit, BrokenPipeError):
            raise
        except Exception as err:       # a fault of ppl's own: say so, and keep the person's session
            self.failures += 1
            self.show_error(PPLError("internal error (%s: %s); the session goes on as it was" % (
                type(err).__name__, err), hint="please report this with the input that caused it"))

    def read_line(self, prompt):
        if self.interactive:
            # \001 and \002 tell readline the colour codes take no room on the line
            bold, plain = self.bold, self.plain
            return input(("\001" + bold + "\002" + prompt + "\001" + plain + "\002") if self.colour else prompt)
        line = self.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    def loop(self):
        """Inputs until Ctrl-D, :quit or the end of the input."""
        if self.interactive:
            _hear_ctrl_c()
        source = inputs(self.read_line)
        while True:
            try:
                text = next(source)
            except KeyboardInterrupt:      # Ctrl-C at the prompt abandons the line, as in Python
                self.stdout.write("\n")
                source = inputs(self.read_line)
                continue
            except EOFError:
                if self.interactive:
                    self.stdout.write("\n")
                break
            try:
                self.do(text)
            except Quit:
                break
            except KeyboardInterrupt:      # between the end of a command and the next prompt
                self.stdout.write("\n")


def _hear_ctrl_c():
    """A person at the terminal is promised that Ctrl-C abandons a line or stops a fit. A shell's
    background job (`ppl repl &`, a script's `cmd &`) starts with SIGINT ignored, and Python then
    installs no handler of its own: Ctrl-C would do nothing at all. Put Python's own back."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
