"""FitSummary: the per-learner table of an ensemble's fit (``ens.data``)."""

from __future__ import annotations

import numpy as np

__all__ = ["FitSummary"]

COLUMNS = ("score-m", "score-s", "ft-m", "ft-s", "pt-m", "pt-s")


class FitSummary:
    """Rows ``"<layer>/<learner>"``; columns: fold score, fit and predict seconds (mean, std).

    Printable; :meth:`to_dict` gives ``{row: {column: value}}`` and
    :meth:`to_frame` a pandas DataFrame (when pandas is installed). An
    ensemble fitted with a ``scorer`` makes one as ``ens.data``.

    Parameters
    ----------
    rows : dict of str to dict
        ``{"<layer>/<learner>": {column: value or None}}``.

    Examples
    --------
    >>> summary = FitSummary({"layer-1/ridge": {"score-m": 0.5, "score-s": 0.1,
    ...                                          "ft-m": 0.01, "ft-s": 0.0,
    ...                                          "pt-m": 0.001, "pt-s": 0.0}})
    >>> summary
                    score-m   score-s      ft-m      ft-s      pt-m      pt-s
    layer-1/ridge    0.5000    0.1000    0.0100    0.0000    0.0010    0.0000
    >>> summary.to_dict()["layer-1/ridge"]["score-m"]
    0.5
    """

    def __init__(self, rows: dict):
        self.rows = rows

    @classmethod
    def from_layers(cls, layer_names, layers) -> FitSummary:
        rows = {}
        for lname, layer in zip(layer_names, layers):
            for name, task in layer.items():
                res = getattr(task, "cv_results_", None)
                if task.kind != "learner" or not res or not res["fold"]:
                    continue
                scores = [s for s in res["score"] if s is not None]
                row = {}
                for col, values in (("score", scores), ("ft", res["fit_time"]),
                                    ("pt", res["predict_time"])):  # fmt: skip
                    row[f"{col}-m"] = float(np.mean(values)) if values else None
                    row[f"{col}-s"] = float(np.std(values)) if values else None
                rows[f"{lname}/{name}"] = row
        return cls(rows)

    def to_dict(self) -> dict:
        """``{row: {column: value}}``."""
        return {k: dict(v) for k, v in self.rows.items()}

    def to_frame(self):
        """A pandas DataFrame (raises ImportError naming the extra if pandas is missing)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_frame needs pandas: pip install pandas") from exc
        return pd.DataFrame.from_dict(self.to_dict(), orient="index")

    def __repr__(self) -> str:
        width = max([len(r) for r in self.rows] + [7])
        head = " " * width + "".join(f"{c:>10}" for c in COLUMNS)
        lines = [head]
        for name, row in self.rows.items():
            cells = "".join(
                f"{'':>10}" if row[c] is None else f"{row[c]:>10.4f}" for c in COLUMNS
            )
            lines.append(f"{name:<{width}}{cells}")
        return "\n".join(lines)
