"""Property test: any sequence of relabel/flag/unflag/undo gives what a simple model predicts."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import erroranalysis as ea
from tests.conftest import CLASSES, make_samples

SAMPLES = [f"s{i:03d}" for i in range(4)]
FLAGS = ["weak_spot", "reviewed"]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("relabel"), st.sampled_from(SAMPLES), st.sampled_from(CLASSES)),
        st.tuples(st.just("flag"), st.sampled_from(SAMPLES), st.sampled_from(FLAGS)),
        st.tuples(st.just("unflag"), st.sampled_from(SAMPLES), st.sampled_from(FLAGS)),
        st.tuples(st.just("undo"), st.none(), st.none()),
    ),
    max_size=25,
)

_counter = itertools.count()


class Model:
    """The journal's meaning, written as plainly as possible: a list of live events."""

    def __init__(self, given: dict[str, str]):
        self.given = given
        self.events: list[tuple[str, str, str]] = []  # live (not undone) events, oldest first

    def apply(self, kind, sample, value):
        if kind == "undo":
            if not self.events:
                return False
            self.events.pop()
            return True
        self.events.append((kind, sample, value))
        return True

    def labels(self):
        labels = dict(self.given)
        for kind, sample, value in self.events:
            if kind == "relabel":
                labels[sample] = value
        return labels

    def flags(self):
        state: dict[tuple[str, str], bool] = {}
        for kind, sample, value in self.events:
            if kind in ("flag", "unflag"):
                state[(sample, value)] = kind == "flag"
        return {key for key, is_set in state.items() if is_set}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations)
def test_journal_matches_the_simple_model(tmp_path_factory, ops):
    folder = tmp_path_factory.mktemp(f"prop{next(_counter)}")
    store = ea.Store.create(folder / "s", classes=CLASSES, samples=make_samples(4))
    model = Model(dict(zip(store.sample_ids, store.samples["given_label"], strict=True)))
    for kind, sample, value in ops:
        expected_ok = model.apply(kind, sample, value)
        if kind == "undo":
            if expected_ok:
                store.undo()
            else:
                try:
                    store.undo()
                except ValueError:
                    pass
                else:
                    raise AssertionError("undo with nothing to undo should fail")
        elif kind == "relabel":
            store.relabel(sample, value)
        elif kind == "flag":
            store.flag(sample, value)
        else:
            store.unflag(sample, value)
        assert store.labels().astype(str).to_dict() == model.labels()
    assert {tuple(row) for row in store.flags()[["sample_id", "flag"]].values} == model.flags()
    reopened = ea.Store.open(folder / "s")
    assert reopened.labels().astype(str).to_dict() == model.labels()
    assert {tuple(row) for row in reopened.flags()[["sample_id", "flag"]].values} == model.flags()
    assert reopened.journal.integrity_check() == "ok"
