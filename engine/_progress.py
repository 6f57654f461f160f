"""The progress bar of a verbose run (the scheduler loop's, for every backend)."""

from __future__ import annotations

import sys

__all__ = ["Progress"]


class Progress:
    """Progress of a verbose run on stderr: a tqdm bar over nodes naming the running ones,
    or, without tqdm, one line per finished node.

    Examples
    --------
    >>> bar = Progress(2)  # on stderr
    >>> bar.advance("a/fit/full", ["b/fit/full"], 0.25, 1)
    >>> bar.advance("b/fit/full", [], 0.5, 2)  # the last node closes the bar
    >>> bar.total
    2
    """

    def __init__(self, total: int):
        self.total = total
        try:
            from tqdm.auto import tqdm  # a widget in a notebook, text elsewhere
        except ImportError:
            self.bar = None
        else:
            self.bar = tqdm(total=total, desc="foldgraph", unit="node", file=sys.stderr,
                            dynamic_ncols=True)  # fmt: skip

    def advance(self, key: str, running, seconds: float, done: int) -> None:
        """One more node finished; ``running`` are the nodes still running."""
        if self.bar is None:
            print(f"[foldgraph] {done}/{self.total} {key} {seconds:.3f}s", file=sys.stderr)
            return
        names = list(running)
        text = ", ".join(names[:2]) + (f" +{len(names) - 2}" if len(names) > 2 else "")
        self.bar.set_postfix_str(f"running: {text}" if names else f"done: {key}", refresh=False)
        self.bar.update(1)
        if done >= self.total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
