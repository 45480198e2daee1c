"""The roster's ranking (core/tickets/rules.py ``Ranking``, kept by ``Roster``) answers what
``rules.candidates`` answers, whatever the people, loads and picks: here on random rosters
changed by random assignments and take-backs, as a scan changes its roster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.people.model import Person, PersonKind
from core.tickets import rules
from core.tickets.offers import Roster

T0 = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)
SKILLS = ("注塑机", "空压机", "冷库")
REGIONS = ("", "华东", "华南")

people = st.lists(
    st.builds(
        lambda n, roles, region, skills, on_duty, active, cap: Person(
            id=f"p{n}", name=f"p{n}", kind=PersonKind.STAFF, roles=frozenset(roles),
            region=region, skills=tuple(skills), on_duty=on_duty, active=active, max_open=cap,
        ),
        st.integers(0, 40),
        st.sets(st.sampled_from(["engineer", "agent", "manager"]), min_size=1),
        st.sampled_from(REGIONS),
        st.lists(st.sampled_from(SKILLS), max_size=2, unique=True),
        st.booleans() | st.just(True),
        st.booleans() | st.just(True),
        st.integers(1, 4),
    ),
    max_size=12,
    unique_by=lambda p: p.id,
)  # fmt: skip
step = st.tuples(
    st.sampled_from(["assign", "take back", "ask"]),
    st.integers(0, 40),  # whom (p<n>)
    st.integers(0, 500),  # minutes after T0
    st.lists(st.sampled_from(SKILLS), max_size=2),
    st.sampled_from(REGIONS),
    st.sets(st.integers(0, 40), max_size=3),  # excluded
)


@settings(max_examples=300, deadline=None)
@given(
    staff=people,
    loads=st.dictionaries(st.integers(0, 40).map(lambda n: f"p{n}"), st.integers(1, 4)),
    last=st.dictionaries(
        st.integers(0, 40).map(lambda n: f"p{n}"),
        st.integers(0, 300).map(lambda m: T0 + timedelta(minutes=m)),
    ),
    steps=st.lists(step, max_size=25),
)
def test_the_ranking_answers_what_the_rules_answer(
    staff: list[Person],
    loads: dict[str, int],
    last: dict[str, datetime],
    steps: list[tuple[str, int, int, list[str], str, set[int]]],
) -> None:
    roster = Roster(staff=staff, loads=dict(loads), last_assigned=dict(last))
    for what, who, minutes, skills, region, excluded in steps:
        pid = f"p{who}"
        if what == "assign":
            roster.assigned(pid, T0 + timedelta(minutes=minutes))
        elif what == "take back":
            roster.unassigned(pid)
        skip = {f"p{n}" for n in excluded}
        expected = rules.candidates(roster.staff, skills=skills, region=region, excluded=skip,
                                    loads=roster.loads, last_assigned=roster.last_assigned)  # fmt: skip
        ranking = roster.ranking()
        assert ranking.candidates(skills=skills, region=region, excluded=skip) == expected
        best = ranking.candidates(skills=skills, region=region, excluded=skip, first=True)
        assert best == expected[:1]
