"""Command line: ``personalab run`` and the small tools around it.

Examples
--------
Run the whole pipeline on the bundled sample::

    personalab run --config data/sample/study.yml

Run on your own wave with flags only::

    personalab run --wave 2026-q4 --input exports/q4.csv --codebook study/codebook.yml

Draft a codebook from a raw export, to edit by hand::

    personalab codebook exports/q4.csv -o study/codebook.yml

Check an export against its codebook (errors name file, column, row and the fix)::

    personalab validate exports/q4.csv --codebook study/codebook.yml
    personalab validate --config study/study.yml     # its input, codebook and read options

Start a study folder (study.yml, a drafted codebook, the notebooks for exploration)::

    personalab init my-study --input exports/q4.csv
    personalab init my-study            # with the bundled synthetic sample as its data

Every error is one line that names the file, the column, the row and the fix; the command
exits non-zero (2 for an error, 130 when interrupted). ``PERSONALAB_DEBUG=1`` shows the
traceback of an unexpected error.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from .errors import PersonaLabError


def _add_run(sub):
    p = sub.add_parser("run", help="run the pipeline notebooks for one wave",
                       description="Validate every parameter, then run the pipeline notebooks "
                                   "with papermill and write reports/<wave>/.")
    p.add_argument("--config", type=Path, help="study/wave YAML (see data/sample/study.yml)")
    p.add_argument("--wave", help="wave name (reports/<wave>/)")
    p.add_argument("--input", help="raw export file")
    p.add_argument("--codebook", help="survey codebook YAML")
    p.add_argument("--themes", help="theme codebook YAML for open-text answers")
    p.add_argument("--output", help="output folder (default: the config's, or reports/<wave> "
                                    "when --wave names another wave)")
    p.add_argument("--format", help="export format (default: auto-detect)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--baseline", help="an earlier wave's output folder, to track changes")
    p.add_argument("--engine", choices=["local", "dask"], help="execution engine")
    p.add_argument("--scheduler", help="Dask scheduler address (with --engine dask)")
    p.add_argument("--steps", nargs="+", help="only these steps, run in pipeline order and "
                   "without gaps (e.g. segment quotes personas report)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run of another wave or input in the output folder")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_cmd_run)


def _cmd_run(args) -> int:
    from .config import config_from_dict, load_config
    from .pipeline import run_study

    overrides = {k: getattr(args, k) for k in ("wave", "input", "codebook", "themes", "output",
                                               "format", "seed", "baseline", "engine",
                                               "scheduler", "steps")}
    if args.config is not None:
        config = load_config(args.config, **overrides)
    else:
        config = config_from_dict({k: v for k, v in overrides.items() if v is not None},
                                  source="(command line)")
    result = run_study(config, progress=not args.no_progress, log=None,
                       overwrite=args.overwrite)
    if result.report is not None:
        print(f"Report written: {result.report}")
    print(f"Run manifest:   {result.manifest}")
    return 0


def _add_codebook(sub):
    p = sub.add_parser("codebook", help="draft a codebook from a raw export, to edit by hand")
    p.add_argument("input", type=Path, help="raw export file")
    p.add_argument("-o", "--output", type=Path, required=True, help="codebook YAML to write")
    p.add_argument("--format", default="auto", help="export format (default: auto-detect)")
    p.add_argument("--force", action="store_true", help="overwrite an existing codebook")
    p.set_defaults(func=_cmd_codebook)


def _cmd_codebook(args) -> int:
    from .codebook import infer_codebook, save_codebook
    from .loaders import load_export

    if args.output.exists() and not args.force:
        raise PersonaLabError(f"{args.output} exists: a codebook is edited by hand and is not "
                              f"overwritten. Fix: choose another path or pass --force.")
    raw = load_export(args.input, format=args.format)
    cb = infer_codebook(raw)
    save_codebook(cb, args.output)
    print(f"Drafted {len(cb.questions)} questions from {args.input} ({raw.format}) -> "
          f"{args.output}. Review types, scales, reverse-keyed items and roles before use.")
    return 0


def _add_validate(sub):
    p = sub.add_parser("validate", help="check an export against its codebook",
                       description="Read the export as a run reads it (numbers, dates and "
                                   "bytes included) and list every problem with its file, "
                                   "column, rows and fix. With --config the study's input, "
                                   "codebook, format and read options are used; flags "
                                   "override them.")
    p.add_argument("input", type=Path, nargs="?", help="raw export file (default: the "
                                                       "config's input)")
    p.add_argument("--codebook", type=Path, help="codebook YAML (default: the config's)")
    p.add_argument("--config", type=Path, help="study YAML to take the input, codebook, "
                                               "format and read options from")
    p.add_argument("--format", help="export format (default: auto-detect)")
    p.add_argument("--decimal", action="append", metavar="MARK|COLUMN=MARK",
                   help="decimal mark of the number columns: '.' or ',' (repeat "
                        "COLUMN=MARK for several columns); study.yml key 'decimal'")
    p.add_argument("--thousands", action="append", metavar="MARK|COLUMN=MARK",
                   help="thousands mark ('', ',', '.', ' ', \"'\"); study.yml key 'thousands'")
    p.add_argument("--dayfirst", action="append", metavar="BOOL|COLUMN=BOOL",
                   help="whether nn/nn/yyyy dates put the day first (true/false); study.yml "
                        "key 'dayfirst'")
    p.add_argument("--encoding", help="the export's text encoding (default: detected)")
    p.add_argument("--encoding-errors", choices=["replace", "strict"],
                   help="bytes that do not decode: replace (and report) or strict (stop)")
    p.set_defaults(func=_cmd_validate)


_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _option_flag(name, given):
    """``--decimal ,`` -> ','; ``--decimal spend=, --decimal rate=,`` -> {column: mark}."""
    if not given:
        return None

    def value(text):
        if name != "dayfirst":
            return text
        if text.strip().lower() not in _BOOLS:
            from .errors import ConfigError

            raise ConfigError(f"--dayfirst takes true or false, got {text!r}",
                              column="dayfirst", fix="--dayfirst true, or --dayfirst "
                                                     "COLUMN=true for one column")
        return _BOOLS[text.strip().lower()]

    per_column = [g for g in given if "=" in g]
    if not per_column:
        if len(given) > 1:
            from .errors import ConfigError

            raise ConfigError(f"--{name} given {len(given)} times without a column",
                              column=name, fix=f"give --{name} once, or COLUMN=VALUE for "
                                               "each column")
        return value(given[0])
    if len(per_column) != len(given):
        from .errors import ConfigError

        raise ConfigError(f"--{name} mixes a value for every column with per-column values",
                          column=name, fix=f"give --{name} COLUMN=VALUE for each column")
    return {col: value(v) for col, v in (g.split("=", 1) for g in per_column)}


def _cmd_validate(args) -> int:
    from .codebook import load_codebook, validate_codebook
    from .config import check_option_columns, check_read_options, load_config, study_fix
    from .errors import ConfigError
    from .loaders import DecodeWarning, load_export

    options, src = {}, "(command line)"
    input_path, codebook_path, fmt = args.input, args.codebook, args.format
    if args.config is not None:
        cfg = load_config(args.config)
        options, src = cfg.read_options(), cfg.source
        input_path = input_path or cfg.input
        codebook_path = codebook_path or cfg.codebook
        fmt = fmt or cfg.format
    flags = {"decimal": _option_flag("decimal", args.decimal),
             "thousands": _option_flag("thousands", args.thousands),
             "dayfirst": _option_flag("dayfirst", args.dayfirst),
             "encoding": args.encoding, "encoding_errors": args.encoding_errors}
    options.update({k: v for k, v in flags.items() if v is not None})
    if input_path is None or codebook_path is None:
        what = "the export" if input_path is None else "a codebook"
        raise ConfigError(f"{what} to check is missing", column="input" if input_path is None
                          else "codebook",
                          fix="personalab validate EXPORT --codebook CODEBOOK, or --config "
                              "study.yml (with its input and codebook)")
    check_read_options(options, src)
    codebook = load_codebook(codebook_path)
    check_option_columns(options, codebook, src)
    with warnings.catch_warnings():
        # bytes read as U+FFFD are warnings of the report below, with their rows
        warnings.simplefilter("ignore", DecodeWarning)
        raw = load_export(input_path, format=fmt or "auto", **options)
    report = validate_codebook(codebook, raw)
    if not report.issues:
        print(report)
        return 0
    # the same file, column, rows and fix a run shows when it stops on the problem
    for issue in sorted(report.issues, key=lambda i: i.level != "error"):
        issue.fix = study_fix(issue.fix)
        print(f"[{issue.level}] {one_line(issue.to_error(input_path))}")
    n_err, n_warn = len(report.errors), len(report.warnings)
    print(f"{n_err} error(s), {n_warn} warning(s)"
          + (": a run stops on the errors." if n_err else ": a run goes ahead."))
    return 0 if report.ok else 1


def _add_init(sub):
    p = sub.add_parser("init", help="start a study folder: study.yml, a drafted codebook, "
                                    "the notebooks",
                       description="Write a study folder to run and explore: study.yml, a "
                                   "codebook drafted from your export (review it), and the "
                                   "notebooks with their defaults pointing at the study. "
                                   "Without --input the bundled synthetic sample is written "
                                   "as the study's data.")
    p.add_argument("folder", type=Path, help="the study folder to create")
    p.add_argument("--input", type=Path, help="your raw export (read, never copied or changed)")
    p.add_argument("--wave", help="wave name (default: the export's file name)")
    p.add_argument("--format", default="auto", help="export format (default: auto-detect)")
    p.set_defaults(func=_cmd_init)


def _cmd_init(args) -> int:
    from .study import init_study

    study = init_study(args.folder, input=args.input, wave=args.wave, file_format=args.format)
    print(f"Study folder written: {study.folder}")
    for path in study.written:
        print(f"  {path}")
    if study.drafted_codebook:
        print("Review the drafted codebook (types, scales, reverse-keyed items, roles) before "
              "you rely on a run.")
    print(f"Run it:  cd {study.folder} && personalab run --config study.yml"
          f"   (writes reports/{study.wave}/ there)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="personalab",
                                     description="From raw survey waves to data-driven personas.")
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {__import__('personalab').__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_codebook(sub)
    _add_validate(sub)
    _add_init(sub)
    return parser


def one_line(message) -> str:
    """An error message as the one line the command line prints ("... Fix: ...")."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def _notice_printer(name):
    from .loaders import DecodeWarning

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DecodeWarning):
            print(f"{name}: warning: {one_line(message)}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)
    return show


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    name = f"personalab {args.command}"
    try:
        with warnings.catch_warnings():
            # PersonaLab's own notices (damaged bytes read as U+FFFD) as one line of the
            # command's output, not as a Python warning with a source path
            warnings.showwarning = _notice_printer(name)
            return args.func(args)
    except KeyboardInterrupt:
        print(f"{name}: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except PersonaLabError as exc:
        from .pipeline import RunInterrupted

        print(f"{name}: error: {one_line(exc)}", file=sys.stderr)
        return 130 if isinstance(exc, RunInterrupted) else 2
    except OSError as exc:
        print(f"{name}: error: {exc.filename or ''}{': ' if exc.filename else ''}"
              f"{exc.strerror or exc} Fix: check the path and its permissions, and the free "
              f"disk space", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("PERSONALAB_DEBUG"):
            raise
        print(f"{name}: unexpected error: {type(exc).__name__}: {one_line(exc)} (a bug in "
              f"PersonaLab: please report it with the command you ran; PERSONALAB_DEBUG=1 "
              f"shows the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
