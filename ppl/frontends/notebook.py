"""Jupyter and IPython: `%load_ext ppl` registers the `%%ppl NAME` cell magic,
which compiles the cell's text into a Model and binds it to NAME in the
notebook's namespace. A mistake in the model prints the usual message with a
caret (no traceback) and leaves NAME as it was."""
import sys

from .api import Model
from ..errors import PPLError


def ppl_cell(ipython, line, cell):
    name = line.strip()
    if not name.isidentifier():
        print("usage: %%%%ppl NAME, then the model on the following lines (NAME: a Python name, got %r)" % name,
              file=sys.stderr)
        return None
    try:
        model = Model(cell, "<cell %s>" % name)
    except PPLError as err:
        print(err, file=sys.stderr)
        return None
    model.name = name
    ipython.user_ns[name] = model
    return model


def register(ipython):
    ipython.register_magic_function(lambda line, cell: ppl_cell(ipython, line, cell), magic_kind="cell",
                                    magic_name="ppl")
