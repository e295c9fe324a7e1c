"""Errors that tell a researcher what went wrong, where, and what to do next.

Every error raised on bad input names the file, the column and the row (when they
are known) and a fix. Row numbers are the line numbers a researcher sees when the
file is opened in a text editor or spreadsheet (1-based, header lines included).
"""
from __future__ import annotations

from pathlib import Path


class PersonaLabError(Exception):
    """Base class of every error PersonaLab raises on purpose."""


class InputError(PersonaLabError, ValueError):
    """Bad input: a file, a column or a value that cannot be used as it is.

    Parameters
    ----------
    problem : str
        What is wrong, in one sentence.
    file : str or Path, optional
        The file the problem is in.
    column : str, optional
        The column (question id) the problem is in.
    row : int or list of int, optional
        File line number(s) of the offending row(s), 1-based.
    fix : str, optional
        What the researcher can do about it.
    """

    #: what ``column`` is called in messages (a config error names a parameter)
    column_noun = "column"

    def __init__(self, problem, *, file=None, column=None, row=None, fix=None):
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.column = column
        self.row = row
        self.fix = fix
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file!s}")
        if self.column is not None:
            where.append(f"{self.column_noun} {self.column!r}")
        if self.row is not None:
            rows = self.row if isinstance(self.row, (list, tuple)) else [self.row]
            shown = ", ".join(str(r) for r in rows[:10])
            more = f" (+{len(rows) - 10} more)" if len(rows) > 10 else ""
            where.append(f"row{'s' if len(rows) > 1 else ''} {shown}{more}")
        msg = (", ".join(where) + ": " if where else "") + self.problem
        if self.fix:
            msg += f"\n  Fix: {self.fix}"
        return msg


class FormatError(InputError):
    """The file's format could not be recognised or read."""


class CodebookError(InputError):
    """A codebook is malformed or does not fit the wave it is applied to."""


class ConfigError(InputError):
    """A run configuration or parameter is invalid."""

    column_noun = "parameter"


def short_path(path) -> str:
    """Path as shown in messages: relative to the working directory when possible."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)
