"""The `ppl` command's entry point. The command line (ppl.frontends.cli) needs numpy, autograd and lark,
which take a moment to load: a Ctrl-C then ends the command as it does later (exit status 130, one
line), not with a traceback of the imports."""
import sys


def main(argv=None):
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return cli_main(argv)
