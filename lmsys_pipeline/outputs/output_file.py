"""The one way ``lmsys export`` (every format) and ``lmsys map`` write their file.

``check_target`` refuses, before any work, a path that is not a regular file: a folder, a
device, a FIFO, a socket, a symbolic link to one of those or to nothing. A symbolic link to a
regular file is followed: the file it points to is replaced (in its own folder) and the link
stays. ``replacing`` hands the writer a path inside a private hidden folder beside the target,
so that sidecars (DuckDB's ``.wal``, its spill folder) land there too; when the writer is done
the new file is fsynced and renamed over the target, and the hidden folder is removed whatever
happened. The old file stays whole until the new one is complete, a failure leaves nothing
behind, and a full disk or a refused write is one sentence naming the file.
"""

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lmsys_pipeline.errors import UserError

FULL = (errno.ENOSPC, errno.EDQUOT)
REFUSED = (errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG)
SPECIAL = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


class OutputFileError(UserError):
    """An output file that must not or could not be written."""


def _kind(mode: int) -> str:
    return next((kind for test, kind in SPECIAL if test(mode)), "not a regular file")


def _not_regular(path: Path, mode: int, via: str = "") -> OutputFileError:
    if not via and stat.S_ISDIR(mode):
        return OutputFileError(
            f"{path} is a folder: give a file name, e.g. {path / 'export.parquet'}."
        )
    return OutputFileError(
        f"{path} is {via}{_kind(mode)}, not a regular file: give -o a new file name "
        "(--force replaces only regular files)."
    )


def check_target(path: Path, force: bool) -> Path:
    """The regular file that writing ``path`` creates or replaces (a symbolic link's target),
    or ``OutputFileError`` when it is anything else, its folder is missing or not writable, or
    it exists and ``force`` is false. Nothing is opened, so a FIFO never blocks."""
    try:
        mode = path.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        if not path.parent.is_dir():
            raise OutputFileError(f"The folder {path.parent} does not exist.") from None
        return _writable(path)
    except PermissionError as error:
        raise OutputFileError(f"Could not write {path}: {error.strerror}.") from None
    target = path
    if stat.S_ISLNK(mode):
        target = Path(os.path.realpath(path))
        try:
            mode = target.stat().st_mode
        except OSError:
            raise OutputFileError(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist: "
                "give -o a file name or point the link at a regular file."
            ) from None
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode, via=f"a symbolic link to {target}, ")
    elif not stat.S_ISREG(mode):
        raise _not_regular(path, mode)
    if not force:
        raise OutputFileError(f"{path} already exists: pass --force to overwrite it.")
    return _writable(target)


def _writable(target: Path) -> Path:
    """``target``, refused when its folder cannot take a new file (permissions, read-only)."""
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise OutputFileError(
            f"Cannot write in {target.parent} (no permission or a read-only disk): "
            "give -o a file in a folder you can write to."
        )
    return target


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count / 1e3:,.0f} kB"


def _free(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _disk_full(error: BaseException) -> bool:
    """ENOSPC or a quota, also when a library (DuckDB, Arrow) says it only in words."""
    words = os.strerror(errno.ENOSPC)
    seen: BaseException | None = error
    while seen is not None:
        if (isinstance(seen, OSError) and seen.errno in FULL) or words in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _write_error(error: Exception, target: Path, free: int | None, existed: bool):
    """The sentence for a write the system refused, or None for anything else (a bug)."""
    kept = " (the existing file is unchanged)" if existed else ""
    if _disk_full(error):
        room = f" in the {_size(free)} that were free" if free is not None else ""
        return OutputFileError(
            f"The disk holding {target.parent} is full: {target.name} did not fit{room}; "
            f"free some space or give -o a file on another disk{kept}."
        )
    if isinstance(error, OSError) and error.errno in REFUSED:
        return OutputFileError(f"Could not write {target}: {error.strerror}{kept}.")
    return None


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _commit(new: Path, path: Path) -> None:
    """Renames the complete, fsynced ``new`` over ``path`` (re-checked: a special file that
    appeared meanwhile is still refused), keeping an old file's permissions."""
    _fsync(new)
    target = check_target(path, force=True)
    if target.exists():
        os.chmod(new, stat.S_IMODE(target.stat().st_mode))
    os.replace(new, target)
    _fsync(target.parent)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Where to write the new content of ``path``; renamed over it when the block ends
    without an error. ``path`` may already exist only as a regular file (or a link to one)."""
    target = check_target(path, force=True)
    free, existed = _free(target.parent), target.exists()
    scratch = None
    try:
        scratch = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        )
        yield scratch / target.name
        _commit(scratch / target.name, path)
    except Exception as error:
        translated = _write_error(error, target, free, existed)
        if translated is None:
            raise
        raise translated from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
