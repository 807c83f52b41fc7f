"""The one shared selection that links every view of the dashboard.

Every view observes a :class:`Selection` and writes only to it: a confusion-matrix cell, a lasso
in the scatter or a slice row *selects* samples; a thumbnail, a point or an issue row *focuses*
one sample (the inspector shows it). Each change records its ``source`` (the view that made it),
so a view can ignore the changes it caused itself and no update ever loops.
"""

from __future__ import annotations

from collections.abc import Iterable

import traitlets

__all__ = ["Selection"]


class Selection(traitlets.HasTraits):
    """Selected and focused samples, shared by all linked views.

    Attributes
    ----------
    sample_ids : tuple of str
        The selected samples, in the order the selecting view gave them.
    source : str
        Who made the latest selection (a view name such as ``"confusion"``, ``"scatter"``,
        ``"slices"``, or ``"api"``).
    focused : str or None
        The sample shown in the inspector.
    focus_source : str
        Who focused it.
    description : str
        A short human description of the selection (``"given cat, predicted dog"``).
    version : int
        Incremented by every :meth:`select` and :meth:`clear`, even when the ids are the same
        (an empty confusion cell, then "clear"): views observe this trait.

    Examples
    --------
    >>> sel = Selection()
    >>> sel.select(["a", "b"], source="api")
    >>> sel.sample_ids
    ('a', 'b')
    >>> sel.focus("b")
    >>> sel.focused
    'b'
    """

    sample_ids = traitlets.Tuple()
    source = traitlets.Unicode("")
    focused = traitlets.Unicode(None, allow_none=True)
    focus_source = traitlets.Unicode("")
    description = traitlets.Unicode("")
    version = traitlets.Int(0)

    def select(self, ids: Iterable[str], source: str = "api", description: str = "") -> None:
        """Replace the selection with ``ids`` in one notification.

        Parameters
        ----------
        ids : iterable of str
            Sample ids to select (an empty iterable clears the selection).
        source : str
            Name of the view (or ``"api"``) making the change; views skip their own changes.
        description : str
            Optional human description shown by the gallery.
        """
        ids = tuple(str(i) for i in ids)
        with self.hold_trait_notifications():
            self.source = source
            self.description = description
            self.sample_ids = ids
            self.version += 1

    def focus(self, sample_id: str | None, source: str = "api") -> None:
        """Focus one sample (``None`` to unfocus).

        Parameters
        ----------
        sample_id : str or None
            The sample to show in the inspector.
        source : str
            Name of the view making the change.
        """
        with self.hold_trait_notifications():
            self.focus_source = source
            self.focused = None if sample_id is None else str(sample_id)

    def clear(self, source: str = "api") -> None:
        """Empty the selection and drop the focus."""
        with self.hold_trait_notifications():
            self.source = source
            self.focus_source = source
            self.description = ""
            self.sample_ids = ()
            self.focused = None
            self.version += 1

    def __len__(self) -> int:
        return len(self.sample_ids)

    def __repr__(self) -> str:
        return (
            f"Selection({len(self.sample_ids)} samples from {self.source or 'nobody'!r}, "
            f"focused={self.focused!r})"
        )
