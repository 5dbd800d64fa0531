"""Opening the files a person names (models, data, saved fits, checkpoints) without being led astray: only
regular files are read (a FIFO would block, /dev/zero never ends), text up to a size limit, and an .npz
archive only after each array's header has been checked against the bytes that hold it, so a 500-byte
file cannot ask for terabytes."""
import os
import zipfile

import numpy as np

from ..errors import PPLError

MAX_TEXT_BYTES = 1 << 30       # 1 GiB: parsing JSON or CSV takes several times the text in memory


def regular_file(path, what, error=PPLError):
    """path, if it names a regular file (following symlinks); else a PPLError saying what it is."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise error("cannot read %s %s: %s" % (what, path, err.strerror or err)) from None
    if os.path.isdir(path):
        raise error("cannot read %s %s: it is a folder" % (what, path))
    if not os.path.isfile(path):
        raise error("cannot read %s %s: it is not a regular file (a device, pipe or socket)" % (what, path),
                       hint="save the contents to a file and name that")
    return info


def read_text(path, what, error=PPLError, limit=MAX_TEXT_BYTES):
    """The UTF-8 text of a regular file (a byte-order mark at its start is dropped); `error` otherwise."""
    info = regular_file(path, what, error)
    if info.st_size > limit:
        raise error("cannot read %s %s: it is %.1f GB, over the limit of %.1f GB" % (
            what, path, info.st_size / 1e9, limit / 1e9), hint="for large data use .npz (np.savez)")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read(limit + 1)
    except OSError as err:
        raise error("cannot read %s %s: %s" % (what, path, err.strerror or err)) from None
    except UnicodeDecodeError:
        raise error("%s %s is not UTF-8 text" % (what, path)) from None
    if len(text) > limit:        # the file grew while it was read
        raise error("cannot read %s %s: it is over the limit of %.1f GB" % (what, path, limit / 1e9))
    return text


def check_npz(path, what, error=PPLError):
    """Refuse an .npz archive whose arrays declare more bytes than the archive holds for them (a damaged or
    hostile file; np.load would try to allocate them), or that is not a zip archive at all."""
    regular_file(path, what, error)
    if not zipfile.is_zipfile(path):
        raise error("%s %s is not a .npz archive" % (what, path), hint="np.savez writes one")
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if member.filename.endswith(".npy"):
                    _check_member(archive, member, path, what, error)
    except PPLError:
        raise
    except Exception as err:          # zipfile.BadZipFile, a truncated or malformed member
        raise error("%s %s is not a valid .npz archive (%s)" % (what, path, type(err).__name__)) from None


def _check_member(archive, member, path, what, error):
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in reader:
            raise error("%s %s: array %s has an unknown format version %s" % (what, path, member.filename,
                                                                                 version))
        shape, _, dtype = reader[version](f)
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > member.file_size:
        raise error("%s %s is damaged: array %s declares shape %s (%d bytes) but holds %d bytes" % (
            what, path, member.filename[:-4], tuple(shape), declared, member.file_size))
