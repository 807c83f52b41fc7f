"""The one shared selection that links every view of the dashboard.

Every view observes a :class:`Selection` and writes only to it: a confusion-matrix cell, a lasso
in the scatter or a slice row *selects* samples; a thumbnail, a point or an issue row *focuses*
one sample (the inspector shows it). Each change records its ``source`` (the view that made it),
so a view can ignore the changes it caused itself and no update ever loops.

A selection is given either as sample ids (:meth:`Selection.select`, the API's way) or as row
positions in the store's sample order (:meth:`Selection.select_positions`, the views' way, once
the selection is bound to the store's ids). It keeps the form it was given and derives the other
only when someone asks, once: a slice of 300k samples then costs the views an array, not 300k
strings made from positions and hashed back into positions by every view.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import traitlets

__all__ = ["Selection"]

#: How many id indexes (besides the bound one) a selection remembers as equal to it: each view
#: made on its own has its own copy of the store's ids, and comparing 1.28M ids costs ~50 ms.
_KNOWN_EQUAL = 4


def _as_index(ids: Any) -> pd.Index:
    """The sample ids as a pandas Index (a ViewData, an Index, an array or a list)."""
    ids = getattr(ids, "id_index", ids)
    return ids if isinstance(ids, pd.Index) else pd.Index(np.asarray(ids, dtype=object))


def _names(names: Any) -> list:
    """The trait names an ``observe`` call names (a name, a list of names, or ``All``)."""
    if names is traitlets.All or isinstance(names, str):
        return [names]
    return list(names)


class Selection(traitlets.HasTraits):
    """Selected and focused samples, shared by all linked views.

    Parameters
    ----------
    ids : array-like of str or pandas.Index, optional
        The store's sample ids in row order, to bind the selection to (see :meth:`bind`); the
        dashboard binds it to its data. Needed for :meth:`select_positions` and
        :attr:`positions`.

    Attributes
    ----------
    sample_ids : tuple of str
        The selected samples, in the order the selecting view gave them (made from the positions
        on first read when the selection was given as positions).
    positions : numpy.ndarray
        The selected samples as row positions in the bound ids (read-only int64, same order;
        ids the store does not have are left out).
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
        Incremented by every :meth:`select`, :meth:`select_positions` and :meth:`clear`, even
        when the samples are the same (an empty confusion cell, then "clear"): views observe this
        trait. (``sample_ids`` is not a trait; observing it by name still works, at the cost of
        making the ids of every selection.)

    Examples
    --------
    >>> sel = Selection()
    >>> sel.select(["a", "b"], source="api")
    >>> sel.sample_ids
    ('a', 'b')
    >>> sel.focus("b")
    >>> sel.focused
    'b'

    Bound to the store's ids, a selection also speaks positions:

    >>> sel = Selection(ids=["a", "b", "c"])
    >>> sel.select_positions([2, 0], source="api")
    >>> sel.sample_ids
    ('c', 'a')
    >>> sel.select(["b", "c"])
    >>> sel.positions.tolist()
    [1, 2]
    """

    source = traitlets.Unicode("")
    focused = traitlets.Unicode(None, allow_none=True)
    focus_source = traitlets.Unicode("")
    description = traitlets.Unicode("")
    version = traitlets.Int(0)

    def __init__(self, ids: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._index: pd.Index | None = None
        self._known_equal: list[pd.Index] = []
        # the selection in the form it was given; the other is derived on demand (None = not yet)
        self._ids: tuple[str, ...] | None = ()
        self._positions: np.ndarray | None = None
        self._elsewhere: tuple[int, pd.Index, np.ndarray] | None = None
        if ids is not None:
            self.bind(ids)

    # -- binding -------------------------------------------------------------------------
    @property
    def bound_ids(self) -> pd.Index | None:
        """The sample ids the positions refer to (``None`` until :meth:`bind`)."""
        return self._index

    def is_bound_to(self, ids: Any) -> bool:
        """Whether ``ids`` (an Index, array or ViewData) are the ids the selection is bound to.

        The same object answers at once; an equal copy is compared once and then remembered.
        """
        if self._index is None:
            return False
        index = _as_index(ids)
        if index is self._index or any(index is known for known in self._known_equal):
            return True
        if len(index) != len(self._index) or not index.equals(self._index):
            return False
        self._known_equal = [index, *self._known_equal][:_KNOWN_EQUAL]
        return True

    def bind(self, ids: Any) -> None:
        """Bind the selection to the store's sample ids in row order.

        Positions (:meth:`select_positions`, :attr:`positions`) are rows of these ids. Binding to
        other ids (a store that gained samples) keeps the selected samples: a selection given as
        positions is first turned into ids of the old binding.

        Parameters
        ----------
        ids : array-like of str, pandas.Index or ViewData
            The sample ids, one per row, unique (as a store's are; not checked here: that
            would hash every id, ~0.1 GiB and ~0.1 s at 1.28M).
        """
        index = _as_index(ids)
        if self.is_bound_to(index):
            return
        if self._ids is None:  # positions of the old binding: keep the samples, as ids
            self._ids = self._ids_from_positions()
        self._positions = None
        self._elsewhere = None
        self._index = index
        self._known_equal = []

    # -- the two forms -------------------------------------------------------------------
    @property
    def sample_ids(self) -> tuple[str, ...]:
        """The selected sample ids (a tuple of str), made from positions on first read."""
        if self._ids is None:
            self._ids = self._ids_from_positions()
        return self._ids

    @property
    def positions(self) -> np.ndarray:
        """The selected samples as read-only int64 row positions of the bound ids.

        Raises
        ------
        ValueError
            When the selection is not bound to the store's ids (see :meth:`bind`).
        """
        if self._positions is None:
            if self._index is None:
                raise ValueError(
                    "this selection is not bound to a store's sample ids, so it has no row "
                    "positions: bind it first (Selection(ids=store.sample_ids) or "
                    "selection.bind(store.sample_ids)), or read selection.sample_ids"
                )
            self._positions = self._lookup(self._index, self._ids or ())
        return self._positions

    def positions_in(self, ids: Any) -> np.ndarray:
        """The selected samples as row positions of ``ids`` (another copy of the store's ids).

        The bound ids (or an equal copy) answer with :attr:`positions`, no lookup; any other ids
        (another store, an unbound selection) are looked up by sample id, once per selection.

        Parameters
        ----------
        ids : array-like of str, pandas.Index or ViewData
            Sample ids in row order.

        Returns
        -------
        numpy.ndarray
            Read-only int64 positions (samples ``ids`` does not have are left out).
        """
        index = _as_index(ids)
        if self.is_bound_to(index):
            return self.positions
        cached = self._elsewhere
        if cached is not None and cached[0] == self.version and cached[1] is index:
            return cached[2]
        out = self._lookup(index, self.sample_ids)
        self._elsewhere = (self.version, index, out)
        return out

    @staticmethod
    def _lookup(index: pd.Index, ids: tuple[str, ...]) -> np.ndarray:
        if not ids:
            out = np.zeros(0, dtype=np.int64)
        else:
            found = index.get_indexer(np.asarray(ids, dtype=object))
            out = found[found >= 0].astype(np.int64)
        out.flags.writeable = False
        return out

    def _ids_from_positions(self) -> tuple[str, ...]:
        if self._positions is None or self._index is None:
            return ()
        # a take from the Index itself: an object copy of the store's 1.28M ids would hold
        # ~0.2 GiB of Python strings for as long as the selection lives
        return tuple(str(i) for i in self._index.take(self._positions).tolist())

    # -- changes -------------------------------------------------------------------------
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
        self._replace(ids, None, source, description)

    def select_positions(
        self,
        positions: Any,
        source: str = "api",
        description: str = "",
        ids: Any = None,
    ) -> None:
        """Replace the selection with the samples at row ``positions``, in one notification.

        The views' way to select: no sample id is made until someone reads :attr:`sample_ids`.

        Parameters
        ----------
        positions : array-like of int, or of bool
            Row positions in the bound ids, in the order to show them; a boolean mask of one
            entry per sample selects where it is true.
        source : str
            Name of the view (or ``"api"``) making the change; views skip their own changes.
        description : str
            Optional human description shown by the gallery.
        ids : array-like of str, pandas.Index or ViewData, optional
            The ids the positions refer to: binds an unbound selection, and must be (equal to)
            the bound ids otherwise.

        Raises
        ------
        ValueError
            When the selection is not bound, ``ids`` are not the bound ids, or a mask has the
            wrong length.
        IndexError
            When a position is outside the bound ids.
        """
        if ids is not None:
            if self._index is None:
                self.bind(ids)
            elif not self.is_bound_to(ids):
                raise ValueError(
                    f"these positions are rows of {len(_as_index(ids)):,} sample ids that are not "
                    f"the {len(self._index):,} ids this selection is bound to (another store, or "
                    "the store changed): select by sample id (selection.select(ids)), or bind "
                    "the selection to these ids first"
                )
        if self._index is None:
            raise ValueError(
                "select_positions needs the selection bound to the store's sample ids: "
                "Selection(ids=store.sample_ids), selection.bind(store.sample_ids), or pass ids=…"
            )
        n = len(self._index)
        array = np.asarray(positions)
        if array.dtype == bool:
            if array.shape != (n,):
                raise ValueError(
                    f"a mask must have one entry per sample ({n:,}), not {array.shape}"
                )
            array = np.flatnonzero(array)
        elif array.size and not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"positions must be integers or a boolean mask, not {array.dtype}")
        # a copy: the caller may reuse its array, and views keep this one
        array = np.array(array, dtype=np.int64).reshape(-1)
        if len(array) and (array.min() < 0 or array.max() >= n):
            bad = int(array[(array < 0) | (array >= n)][0])
            raise IndexError(
                f"position {bad} is outside the {n:,} samples the selection is bound to"
            )
        array.flags.writeable = False
        self._replace(None, array, source, description)

    def _replace(
        self,
        ids: tuple[str, ...] | None,
        positions: np.ndarray | None,
        source: str,
        description: str,
    ) -> None:
        # "sample_ids" observers (of the days it was a trait) get the old and new ids; nobody
        # else pays for making them
        old = self.sample_ids if self._ids_observed() else None
        self._ids, self._positions, self._elsewhere = ids, positions, None
        with self.hold_trait_notifications():
            self.source = source
            self.description = description
            self.version += 1
        if old is not None:
            self._notify_ids(old)

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
        old = self.sample_ids if self._ids_observed() else None
        self._ids, self._positions, self._elsewhere = (), None, None
        with self.hold_trait_notifications():
            self.source = source
            self.focus_source = source
            self.description = ""
            self.focused = None
            self.version += 1
        if old is not None:
            self._notify_ids(old)

    # -- observing "sample_ids" by name --------------------------------------------------
    def observe(self, handler: Any, names: Any = traitlets.All, type: str = "change") -> None:
        """Call ``handler(change)`` on changes of ``names`` (see :meth:`traitlets.HasTraits.observe`).

        Views observe ``"version"``; ``"sample_ids"`` still works: its handlers get the old and
        new ids after each change (made for them, so a 300k selection costs them the strings).
        """
        if "sample_ids" in _names(names):
            self.__dict__.setdefault("_ids_handlers", []).append((handler, type))
        super().observe(handler, names=names, type=type)

    def unobserve(self, handler: Any, names: Any = traitlets.All, type: str = "change") -> None:
        """Stop calling ``handler`` (see :meth:`traitlets.HasTraits.unobserve`)."""
        super().unobserve(handler, names=names, type=type)
        if "sample_ids" in _names(names) or names is traitlets.All:
            handlers = self.__dict__.get("_ids_handlers", [])
            if (handler, type) in handlers:
                handlers.remove((handler, type))

    def _ids_observed(self) -> bool:
        return bool(self.__dict__.get("_ids_handlers"))

    def _notify_ids(self, old: tuple[str, ...]) -> None:
        new = self.sample_ids
        if new != old:  # as a trait did: no notification when the ids did not change
            self.notify_change(
                traitlets.Bunch(name="sample_ids", old=old, new=new, owner=self, type="change")
            )

    def __len__(self) -> int:
        return len(self._ids) if self._ids is not None else len(self._positions)

    def __repr__(self) -> str:
        return (
            f"Selection({len(self)} samples from {self.source or 'nobody'!r}, "
            f"focused={self.focused!r})"
        )
