"""The `ppl` command's entry point. The command line (ppl.frontends.cli) needs numpy, autograd and lark,
which take a moment to load: a Ctrl-C then ends the command as it does later (exit status 130, one
line), not with a traceback of the imports."""
import os
import sys


def main(argv=None):
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    try:
        return cli_main(argv)
    except BrokenPipeError:
        # the reader went away (`ppl fit model.ppl | head`): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
