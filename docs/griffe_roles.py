"""A griffe extension for the API pages: Sphinx roles become code spans.

Docstrings cross-reference with Sphinx roles (``:class:`~foldgraph.graph.TaskGraph```,
``:meth:`add_task```), which Markdown would show verbatim. This rewrites
each role as a code span of its target, shortened to the last name when
the target starts with ``~`` (Sphinx's convention), so the reference reads
as ``TaskGraph``. Listed under the Python handler's ``extensions`` in
mkdocs.yml.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|data|obj|exc|const):`(~?)([^`]+)`")


def plain(text: str) -> str:
    """Rewrite the Sphinx roles of ``text`` as Markdown code spans.

    Examples
    --------
    >>> plain("see :class:`~foldgraph.graph.TaskGraph` and :meth:`Job.release`")
    'see `TaskGraph` and `Job.release`'
    """
    return ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`",
                    text)  # fmt: skip


class SphinxRoles(griffe.Extension):
    """Apply :func:`plain` to every docstring as objects are loaded."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
