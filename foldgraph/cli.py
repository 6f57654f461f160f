"""The ``foldgraph`` command line (also ``python -m foldgraph``).

``foldgraph demo`` fits a SuperLearner on scikit-learn's ``make_friedman1``
data (generated, no download). It prints what a newcomer wants to see:
per-learner cross-validated scores and fit times, the ensemble's holdout
score beside the best single learner, and the schedule of the run. It also
writes pictures: ``graph.svg`` and ``graph.html`` (the ensemble's fit graph)
and ``gantt.png`` (its schedule).

``foldgraph show SPEC`` draws the graph of an ensemble described in a JSON
file (see :mod:`foldgraph.graph.spec` and docs/visualizing.md). ``foldgraph bench``
runs a script of the source tree's ``benchmarks/`` folder.

Errors print one line on stderr and exit non-zero: 2 for bad arguments, 1
for anything else (``--traceback`` shows the whole traceback).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from foldgraph.graph.spec import INDEXERS, SPEC_KEYS, TASK_KEYS, load_spec  # noqa: F401
from foldgraph.graph.spec import graph_from_spec as build_spec

__all__ = ["main", "demo", "show", "bench", "build_spec", "load_spec"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors fit on one line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.ravel(a) - np.ravel(b)) ** 2)))


def _use_agg() -> bool:
    """Select matplotlib's file-only Agg backend; False when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    return True


# -- demo ------------------------------------------------------------------------
def demo(
    backend: str = "auto",
    n_jobs: int = -1,
    folds: int = 5,
    out: str | Path | None = "foldgraph-demo",
) -> dict:
    """Run the demo; print a report, write the pictures to ``out`` and return its numbers.

    Parameters
    ----------
    backend : str, default="auto"
    n_jobs : int, default=-1
    folds : int, default=5
    out : str or Path or None, default="foldgraph-demo"
        Folder for ``graph.svg``, ``graph.html`` and ``gantt.png`` (created
        if missing); None writes nothing.

    Returns
    -------
    dict
        ``ensemble`` and ``best`` holdout RMSE, ``learners`` (RMSE by
        name), ``files`` (the paths written) and ``trace`` (of the first
        layer's fit).

    Examples
    --------
    Not run here: it fits 36 models and takes seconds (``foldgraph demo``
    on the command line does the same):

    >>> result = demo(n_jobs=2, out=None)  # doctest: +SKIP
    foldgraph demo: make_friedman1, 1500 training rows, 500 holdout rows; SuperLearner ...
    ...
    >>> sorted(result)  # doctest: +SKIP
    ['best', 'ensemble', 'files', 'learners', 'trace']
    """
    from sklearn.datasets import make_friedman1
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import Lasso, LinearRegression, Ridge
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.svm import SVR

    from foldgraph import SuperLearner

    X, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    Xtr, Xho, ytr, yho = train_test_split(X, y, test_size=0.25, random_state=0)
    estimators = [
        ("ridge", Ridge(alpha=1.0)),
        ("lasso", Lasso(alpha=0.05)),
        ("knn", KNeighborsRegressor(10)),
        ("forest", RandomForestRegressor(100, max_depth=8, random_state=0)),
        ("boosting", GradientBoostingRegressor(n_estimators=150, max_depth=3, random_state=0)),
        ("svr", SVR(C=10.0)),
    ]
    names = [name for name, _ in estimators]
    ens = SuperLearner(folds=folds, backend=backend, n_jobs=n_jobs, strategy="critical_path")
    ens.add(estimators).add_meta(LinearRegression())
    print(
        f"foldgraph demo: make_friedman1, {len(ytr)} training rows, {len(yho)} holdout "
        f"rows; SuperLearner of {len(names)} base learners x {folds} folds + a meta "
        f"learner; backend={backend!r}"
    )
    t0 = time.perf_counter()
    ens.fit(Xtr, ytr)
    Zho = ens.transform(Xho)
    ens_rmse = _rmse(ens.predict(Xho), yho)
    elapsed = time.perf_counter() - t0
    fit_graph, fit_trace = ens.graph_, ens.trace_.set_graph(ens.graph_)
    print(f"\nensemble graph: {len(fit_graph)} nodes, {fit_graph.nx.number_of_edges()} edges")
    scores = _learner_scores(ens, names, Zho, ytr, yho)
    best = min(scores, key=scores.get)
    print(
        f"\nensemble holdout rmse: {ens_rmse:.3f}   best single learner ({best}): "
        f"{scores[best]:.3f}"
    )
    print(
        f"whole demo {elapsed:.2f} s\n\nschedule of the fit "
        f"(strategy 'critical_path'):\n{fit_trace.summary()}"
    )
    files = [] if out is None else _demo_pictures(fit_graph, fit_trace, Path(out))
    return {
        "ensemble": ens_rmse,
        "best": scores[best],
        "learners": scores,
        "files": files,
        "trace": fit_trace,
    }


def _learner_scores(ens, names, Zho, ytr, yho) -> dict:
    """Print each base learner's cv and holdout RMSE and fit time; returns holdout RMSE by name."""
    print(f"{'learner':<12}{'cv rmse':>10}{'holdout rmse':>14}{'fit s/fold':>12}")
    scores = {}
    for i, name in enumerate(names):
        cv = _rmse(ens.fit_transform_[:, i], ytr)
        scores[name] = _rmse(Zho[:, i], yho)
        fit_s = np.mean(ens.layers_[0][name].cv_results_["fit_time"])
        print(f"{name:<12}{cv:>10.3f}{scores[name]:>14.3f}{fit_s:>12.4f}")
    return scores


def _demo_pictures(graph, trace, out: Path) -> list[Path]:
    """Write graph.svg, graph.html and gantt.png into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    if not _use_agg():
        dot = graph.save(out / "graph.dot", durations=trace)
        print(
            f"\npictures skipped: they need matplotlib (pip install 'foldgraph[viz]'); "
            f"wrote {dot} instead",
            file=sys.stderr,
        )
        return [dot]
    title = "the demo's SuperLearner: fit graph, with each node's duration"
    files = [
        graph.save(out / "graph.svg", durations=trace, title=title),
        graph.save(out / "graph.html", durations=trace, title=title),
    ]
    trace.gantt(out / "gantt.png")
    files.append(out / "gantt.png")
    print(f"\nwrote {', '.join(str(f) for f in files)}")
    return files


# -- show ------------------------------------------------------------------------
# The spec compiler lives beside the builders; its old names here stay importable.
def show(spec, level: str = "node", out=None) -> str | Path:
    """Draw the graph of a JSON spec to ``out`` (format by suffix), or return its DOT text.

    Parameters
    ----------
    spec : str or Path
        A JSON file (see :mod:`foldgraph.graph.spec`).
    level : {"node", "task"}, default="node"
    out : str or Path, optional
        A file with one of the suffixes of
        :data:`~foldgraph.graph.draw.FORMATS`.

    Returns
    -------
    str or Path
        The DOT text if ``out`` is None, else the file written.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> folder = tempfile.TemporaryDirectory()
    >>> spec = Path(folder.name) / "spec.json"
    >>> _ = spec.write_text(json.dumps({"title": "one learner", "tasks": [
    ...     {"learner": "foldgraph.testing.OLS", "indexer": {"FoldIndex": {"folds": 2}}}]}))
    >>> print(show(spec).splitlines()[0])
    digraph "foldgraph" {
    >>> show(spec, level="task", out=Path(folder.name) / "graph.mmd").name
    'graph.mmd'
    >>> folder.cleanup()
    """
    from foldgraph.graph.draw import FORMATS, LEVELS

    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
    graph, title = load_spec(spec)
    if out is None:
        return graph.to_dot(level=level, title=title)
    out = Path(out)
    if out.suffix.lower() not in FORMATS:  # before any work, with the list of formats
        raise ValueError(f"cannot write {out.name!r}: use one of the suffixes {', '.join(FORMATS)}")
    if out.suffix.lower() in (".svg", ".png", ".pdf", ".html") and not _use_agg():
        raise ValueError(
            f"writing {out.suffix} needs matplotlib: pip install 'foldgraph[viz]' "
            f"(or write .dot or .mmd)"
        )
    return graph.save(out, level=level, title=title)


# -- bench -----------------------------------------------------------------------
def _benchmarks_dir() -> Path | None:
    for root in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (root / "benchmarks").is_dir():
            return root / "benchmarks"
    return None


def bench(name: str = "overhead", full: bool = False, list_only: bool = False, out=None) -> int:
    """Run ``benchmarks/<name>.py`` (with ``--quick`` unless ``full``); returns its exit code.

    The benchmarks ship with the source tree, not the package: run it from
    a clone of the repository. Results (JSON, traces, plots) go to ``out``,
    by default the current directory: never into the package or the
    repository (a script run directly writes to ``benchmarks/results/``).

    Parameters
    ----------
    name : str, default="overhead"
        A script of ``benchmarks/``, without ``.py``.
    full : bool, default=False
        Run the full benchmark instead of its ``--quick`` version.
    list_only : bool, default=False
        Print the names of the scripts instead.
    out : str or Path, optional
        Folder for the results; created if missing. Default: the current directory.

    Raises
    ------
    ValueError
        No benchmark of that name.
    RuntimeError
        No ``benchmarks/`` folder.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()) as listing:
    ...     code = bench(list_only=True)
    >>> code, "overhead" in listing.getvalue().split()
    (0, True)
    """
    folder = _benchmarks_dir()
    if folder is None:
        raise RuntimeError(
            "no benchmarks/ folder: the benchmarks ship with the source tree, "
            "not the package; run foldgraph bench from a clone of the repository"
        )
    scripts = sorted(p.stem for p in folder.glob("*.py") if not p.name.startswith("_"))
    if list_only:
        print("\n".join(scripts))
        return 0
    if name not in scripts:
        raise ValueError(
            f"no benchmark {name!r} in benchmarks/ (choose one of {', '.join(scripts) or 'none'})"
        )
    out = Path(out if out is not None else Path.cwd()).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(folder / f"{name}.py")] + ([] if full else ["--quick"])
    env = {**os.environ, "FOLDGRAPH_BENCH_OUT": str(out)}
    return subprocess.run(cmd, cwd=folder.parent, env=env).returncode


# -- main ------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="foldgraph", description=__doc__.splitlines()[0])
    parser.add_argument("--traceback", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,show,bench}")
    p = sub.add_parser("demo", help="fit a stacked ensemble on a built-in data set and draw it")
    p.add_argument(
        "--out",
        default="foldgraph-demo",
        metavar="DIR",
        help="folder for graph.svg, graph.html and gantt.png (default: %(default)s)",
    )
    p.add_argument(
        "--backend",
        default="auto",
        help="auto, sequential, threading or multiprocessing (default: %(default)s)",
    )
    p.add_argument("--n-jobs", type=int, default=-1, help="workers (-1: every CPU)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    p = sub.add_parser("show", help="draw the graph of an ensemble described in a JSON spec")
    p.add_argument("spec", help="JSON file describing the ensemble (see docs/visualizing.md)")
    p.add_argument(
        "--level",
        choices=("node", "task"),
        default="node",
        help="one shape per node, or one box per task (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        default=None,
        help="picture to write: .svg .png .pdf .dot .mmd .html (default: print DOT to stdout)",
    )
    p = sub.add_parser("bench", help="run a benchmark script of the source tree")
    p.add_argument(
        "name", nargs="?", default="overhead", help="script in benchmarks/ (default: %(default)s)"
    )
    p.add_argument("--full", action="store_true", help="full run instead of --quick")
    p.add_argument("--list", action="store_true", help="list the benchmark scripts")
    p.add_argument(
        "--out", default=None, help="folder for the results (default: the current directory)"
    )
    return parser


def main(argv=None) -> int:
    """Entry point of the ``foldgraph`` console script.

    Parameters
    ----------
    argv : list of str, optional
        The arguments; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0, 1 after an error (one line on stderr), 130 when
        interrupted. Bad arguments exit with status 2 (``SystemExit``).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> folder = tempfile.TemporaryDirectory()
    >>> spec = Path(folder.name) / "spec.json"
    >>> _ = spec.write_text(json.dumps({"title": "one learner", "tasks": [
    ...     {"learner": "foldgraph.testing.OLS", "indexer": {"FoldIndex": {"folds": 2}}}]}))
    >>> main(["show", str(spec), "--out", str(Path(folder.name) / "graph.mmd")])
    wrote ...graph.mmd
    0
    >>> main(["show", "missing.json"])  # prints: foldgraph: error: no spec file 'missing.json'
    1
    >>> folder.cleanup()
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            demo(args.backend, args.n_jobs, args.folds, out=args.out)
        elif args.command == "show":
            result = show(args.spec, args.level, args.out)
            if isinstance(result, Path):
                print(f"wrote {result}")
            else:
                sys.stdout.write(result)
        elif args.command == "bench":
            return bench(args.name, full=args.full, list_only=args.list, out=args.out)
    except KeyboardInterrupt:
        print("foldgraph: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one readable line, not a traceback
        if args.traceback:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"foldgraph: error: {message}", file=sys.stderr)
        return 1
    return 0
