"""The REPL session's commands on the model and its data: :data, :load, :save, :show, :check, :undo,
:reset."""
import json
import os

import numpy as np

from ..errors import PPLError
from ..model import data as datafiles
from .api import load
from .session_text import shape_text, split_statements


class ModelCommands:
    """Mixed into Session: the commands that read, write, show and undo the model and its data."""

    def cmd_data(self, args):
        if args:
            loaded, origin = {}, {}
            for path in args:
                values = datafiles.read(path)
                loaded.update(values)
                origin.update(dict.fromkeys(values, path))
            self._push("bound %s from %s" % (", ".join(loaded), ", ".join(args)))
            self.data.update(loaded)
            self.data_origin.update(origin)
            return "bound " + ", ".join("%s: %s" % (n, shape_text(v)) for n, v in loaded.items())
        if not self.data and self.model is None:
            return "no data bound; type NAME = [numbers], or :data FILE.json"
        lines = []
        if self.data:
            width = max(len(n) for n in self.data)
            lines.append("bound:")
            for name, value in self.data.items():
                origin = self.data_origin[name]
                lines.append("  %-*s  %-16s %s" % (width, name, shape_text(value),
                                                   "typed" if origin is None else "from " + origin))
        if self.model is not None:
            declared = self.model.checked.names("data")
            missing = [n for n in declared if n not in self.data]
            unused = [n for n in self.data if n not in declared and n not in self.model.checked.names("size")]
            if missing:
                lines.append("declared but not bound: " + ", ".join(missing))
            if unused:
                lines.append("bound but not declared by the model: " + ", ".join(unused))
        return "\n".join(lines) or "no data bound"

    def cmd_load(self, args):
        if len(args) != 1:
            raise PPLError(":load takes one model file", hint=":load examples/eight_schools.ppl")
        path = args[0]
        model = load(path)
        found = datafiles.default_path(path)
        loaded = datafiles.read(found) if found else {}
        self._push("loaded %s" % path)
        self.statements = split_statements(model.text) if model.text.strip() else []
        self.model = model if self.statements else None     # errors quote the file until the first edit
        for name, value in loaded.items():
            self.data[name] = value
            self.data_origin[name] = found
        latents = self.model.checked.names("latent") if self.model else []
        out = "loaded %s: %d statements; latents %s" % (path, len(self.statements), ", ".join(latents) or "none")
        if found:
            out += "\nbound %s from %s" % (", ".join(loaded), found)
        return out

    def cmd_save(self, args):
        if len(args) != 1:
            raise PPLError(":save takes one file name", hint=":save model.ppl")
        self._need_model()
        path = args[0]
        stem, ext = os.path.splitext(path)
        if ext == "":
            path = stem + ".ppl"
        elif ext != ".ppl":
            raise PPLError(":save writes a model file, FILE.ppl; its data goes to FILE.json beside it",
                           hint=":save %s.ppl" % stem)
        data_path = stem + ".json"
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.text())
            if self.data:
                with open(data_path, "w", encoding="utf-8") as f:
                    json.dump({n: np.asarray(v).tolist() for n, v in self.data.items()}, f, indent=1)
                    f.write("\n")
        except OSError as err:
            raise PPLError("cannot write %s: %s" % (err.filename or path, err.strerror or err)) from None
        out = "wrote %s" % path
        if self.data:
            out += " and %s (%s)" % (data_path, ", ".join(self.data))
        elif os.path.exists(data_path):
            out += "; note: %s is not this session's data (none is bound), but `ppl fit` will read it" % data_path
        return out

    def cmd_show(self, args):
        if not self.statements:
            return "(the model is empty)"
        lines = self.text().rstrip("\n").split("\n")
        width = len(str(len(lines)))
        return "\n".join("%*d  %s" % (width, i, line) for i, line in enumerate(lines, start=1))

    def cmd_check(self, args):
        model = self._need_model()
        declared = model.checked.names("data")
        complete = all(n in self.data for n in declared)
        out = model.describe(self.data if complete else None)
        if not complete:
            out += "\n\ndata not yet bound: " + ", ".join(n for n in declared if n not in self.data)
        return out

    def cmd_undo(self, args):
        if not self.undo_stack:
            raise PPLError("nothing to undo")
        what, self.statements, self.model, self.data, self.data_origin = self.undo_stack.pop()
        return "undone: " + what

    def cmd_reset(self, args):
        self._push("reset")
        self.statements, self.data, self.data_origin, self.model, self.fit = [], {}, {}, None, None
        return "the model and the data are empty (:undo brings them back)"
