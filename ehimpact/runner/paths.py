"""Safe output paths: authority codes checked, every path proven inside its output root.

A run's output folder is built from the authority code (``<out>/<run>/<authority>/<evaluation>``),
so a code is only used in a path once it is known to be an authority: a GSS code of the
authorities table (or, through :func:`ehimpact.data.authorities.resolve` where it exists, a
DfE LA number), or a plain code present in the data.  ``../../../victim``, ``;touch x`` or
``$(...)`` are refused with an :class:`~ehimpact.errors.InputError` before any folder is made.
:func:`inside` then proves that every path written or removed lies inside the output root
(symbolic links resolved), and :func:`check_writable` proves the root can be written before
any work starts.

Temporary folders and files carry their owner's process id and host
(:func:`temp_tag`), so start-up clean-up removes only those whose owner is gone
(:func:`owner_alive`).
"""

from __future__ import annotations

import errno
import os
import re
import socket
import uuid
from collections.abc import Iterable
from pathlib import Path

from ehimpact.errors import InputError

__all__ = ["checked_authority", "inside", "check_writable", "temp_tag", "parse_temp_tag", "owner_alive",
           "HOST"]

_GSS = re.compile(r"^E\d{8}$")
#: a code from the data is used in a path only if it is a plain word (no separators, dots or shell syntax)
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
#: this machine's name as it appears in temporary names (letters, digits and '-' only)
HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname() or "host")[:40] or "host"
_TAG = re.compile(r"(?:tmp|old)-(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]+)-(?P<rand>[A-Za-z0-9_]{8})")


def _shown(code: object) -> str:
    text = repr(code)
    return text if len(text) <= 60 else text[:57] + "..."


def checked_authority(code: str, known: Iterable[str] | None = None) -> str:
    """The authority code to use in output paths, or an :class:`InputError`.

    Parameters
    ----------
    code : str
        What the user (``--authority``, ``batch.authorities``) or the data gave.
    known : iterable of str, optional
        Authority codes present in the data; a plain code (letters, digits, ``_`` and
        ``-``, at most 40 characters) from this list is accepted even when it is not in the
        authorities table.

    Returns
    -------
    str
        The GSS code (a DfE LA number is turned into its GSS code when
        :func:`ehimpact.data.authorities.resolve` is available), or the known code.

    Raises
    ------
    InputError
        Anything else, naming the code (``../../../victim``, ``;touch x``, an unknown GSS code).

    Examples
    --------
    >>> checked_authority("E06000036")
    'E06000036'
    >>> checked_authority("../../../victim")
    Traceback (most recent call last):
    ...
    ehimpact.errors.InputError: authority_code: '../../../victim' is not an authority code ...
    """
    from ehimpact.data import authorities

    known_set = {str(k) for k in known} if known is not None else set()
    text = code if isinstance(code, str) else None
    if text is not None:
        if text in known_set and _PLAIN.match(text):
            return text
        if hasattr(authorities, "resolve"):
            try:
                resolved = str(authorities.resolve(text))
            except InputError:
                resolved = None
            except Exception:  # noqa: BLE001 - a resolver's own error means "not an authority"
                resolved = None
            if resolved is not None and _PLAIN.match(resolved):
                return resolved
        elif _GSS.match(text.strip().upper()):
            try:
                row = authorities.lookup(text.strip().upper())
            except InputError:
                row = None
            if row is not None:
                return str(row["gss_code"])
    raise InputError(
        f"{_shown(code)} is not an authority code (a GSS code such as E06000036 of the authorities table, "
        "or a code in the data); nothing was written",
        field="authority_code",
        fix="use a GSS code starting E06, E08, E09 or E10 (see ehimpact.data.authorities.table()), "
            "or a code from the data's authority_code column",
    )


def inside(root: str | Path, path: str | Path) -> Path:
    """Resolve ``path`` (relative paths are taken from ``root``) and prove it lies inside ``root``.

    Parameters
    ----------
    root : path
        The output root.
    path : path
        A path to write or remove.

    Returns
    -------
    Path
        The resolved, absolute path.

    Raises
    ------
    InputError
        When the path (after following symbolic links and ``..``) is outside ``root``.

    Examples
    --------
    >>> import tempfile
    >>> r = Path(tempfile.mkdtemp())
    >>> inside(r, "run/E06000036").relative_to(r.resolve()).as_posix()
    'run/E06000036'
    """
    base = Path(root).resolve()
    p = Path(path)
    full = (p if p.is_absolute() else base / p).resolve()
    if full != base and base not in full.parents:
        raise InputError(f"{str(path)!r} lies outside the output folder {str(base)!r}; nothing was written there",
                         field="output path", fix="use plain authority codes and run names (no '..' or links "
                                                  "that leave the output folder)")
    return full


def check_writable(folder: str | Path, *, field: str = "output_dir") -> Path:
    """Make ``folder`` (and its parents) and prove a file can be written, synced and removed there.

    Parameters
    ----------
    folder : path
        The output folder.
    field : str
        The option the folder came from (named in the error).

    Returns
    -------
    Path
        The resolved folder.

    Raises
    ------
    InputError
        One line naming the folder and the reason (read-only, no permission, disk full).
    """
    path = Path(folder).resolve()
    probe = path / f".write-probe.{temp_tag()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"ehimpact write probe\n" * 64)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise InputError(f"the output folder {str(path)!r} cannot be written ({reason})", field=field,
                         fix="choose a folder you can write to (--out), or free space / fix its permissions"
                         ) from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return path


def temp_tag(pid: int | None = None) -> str:
    """``tmp-<pid>@<host>-<random>``: the part of a temporary name that names its owner."""
    return f"tmp-{os.getpid() if pid is None else pid}@{HOST}-{uuid.uuid4().hex[:8]}"


def parse_temp_tag(name: str) -> tuple[int, str] | None:
    """``(pid, host)`` of a temporary name made with :func:`temp_tag`, or None."""
    m = _TAG.search(name)
    return (int(m["pid"]), m["host"]) if m else None


def owner_alive(pid: int, host: str) -> bool:
    """Whether the process that owns a temporary name may still be running.

    A process on another host cannot be checked, so it counts as alive.
    """
    if host != HOST:
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError as exc:  # pragma: no cover - e.g. EINVAL
        return exc.errno != errno.ESRCH
    return True
