"""One fit writes a checkpoint path at a time. Two fits given the same path would overwrite each other's
state, and the resumed fit would be neither of them: the second is refused, naming the first (its process
id, kept in PATH.lock while the first runs). A lock left by a process that has died is taken over."""
import os

from ..errors import PPLError


class WriterLock:
    def __init__(self, path):
        self.path, self.held = path + ".lock", False
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _owner(self.path)
                if owner is not None and _alive(owner):
                    raise PPLError("another fit (process %d) is writing the checkpoint %s" % (owner, path),
                                   hint="give this fit a checkpoint path of its own") from None
                _remove(self.path)          # left by a fit that died: take it over
                continue
            except OSError:
                return                       # a folder that takes no lock files: write without one
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            self.held = True
            return

    def release(self):
        if self.held:
            _remove(self.path)
            self.held = False


def _owner(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or -1)
    except (OSError, ValueError):
        return None


def _alive(pid):
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
