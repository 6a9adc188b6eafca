"""The bundled matching strategies: bridge (matching_bridge) and contrast (matching_contrast).

Scoring rules run on MatchingProfiles in an index filled directly; reasons, the live index and the
plugin registration run against the real database with profiles saved through the questionnaire services.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from core.api import FeatureIndex, MatchingProfile
from plugins.matching_bridge import BridgeSettings, BridgeStrategy
from plugins.matching_contrast import ContrastSettings, ContrastStrategy
from tests.profiles import complete_profile

EVENINGS = frozenset(range(22, 26))  # Monday 22:00-02:00 UTC


def person(user_id: int, lean: float | None, issues: dict[str, float] | None = None, *,
           interests: tuple[str, ...] = (), values: tuple[str, ...] = (), languages: tuple[str, ...] = ("en",),
           hours: frozenset[int] = EVENINGS, life_stage: str | None = "35-44", country: str = "US",
           region: str = "Ohio", shared: tuple[str, ...] = ("interests", "values", "lean", "age_range", "location"),
           ) -> MatchingProfile:
    """A MatchingProfile as the questionnaire would produce it (interest tokens are "question:value")."""
    return MatchingProfile(
        user_id=user_id, lean=lean, issues=issues or {}, interests=frozenset(f"interests:{i}" for i in interests),
        values=frozenset(f"values:{v}" for v in values), life_stage=life_stage, country=country, region=region,
        languages=frozenset(languages), availability_utc=hours, shared=frozenset(shared))


def bridge(*people: MatchingProfile, **settings) -> BridgeStrategy:
    """A bridge strategy over an index of `people`."""
    index = FeatureIndex()
    index.upsert(people)
    return BridgeStrategy(settings=BridgeSettings(**settings), index=index)


def contrast(*people: MatchingProfile, **settings) -> ContrastStrategy:
    """A contrast strategy over an index of `people`."""
    index = FeatureIndex()
    index.upsert(people)
    return ContrastStrategy(settings=ContrastSettings(**settings), index=index)


# --- bridge: scoring rules ---------------------------------------------------------------------------

def test_bridge_refuses_pairs_without_a_common_language():
    left, right = person(1, 0.1), person(2, 0.9, languages=("es",))

    assert bridge(left, right).score(left, right) is None
    assert bridge(left, person(3, 0.9, languages=("es", "en"))).score(left, person(3, 0.9, languages=("es", "en")))


def test_bridge_refuses_same_side_pairs_unless_the_config_allows_them():
    far_left, left = person(1, 0.0), person(2, 0.35, {"issue_guns": 1.0})
    far_left = person(1, 0.0, {"issue_guns": 0.0})

    assert bridge(far_left, left).score(far_left, left) is None
    assert bridge(far_left, left, allow_same_side=True).score(far_left, left) is not None


def test_bridge_pairs_the_centre_with_either_side():
    centre, right = person(1, 0.5), person(2, 0.95)

    assert bridge(centre, right).score(centre, right) is not None


def test_bridge_refuses_pairs_closer_than_the_minimum_distance():
    a, b = person(1, 0.45), person(2, 0.62)

    assert bridge(a, b, allow_same_side=True, min_distance=0.25).score(a, b) is None
    assert bridge(a, b, allow_same_side=True, min_distance=0.1).score(a, b) is not None


def test_bridge_difference_grows_up_to_the_preferred_distance_and_not_beyond():
    me = person(1, 0.0)
    near, preferred, farthest = person(2, 0.6), person(3, 0.8), person(4, 1.0)
    strategy = bridge(me, near, preferred, farthest, preferred_distance=0.8, min_distance=0.2)

    assert strategy.score(me, near) < strategy.score(me, preferred)
    assert strategy.score(me, preferred) == strategy.score(me, farthest)


def test_bridge_rewards_interests_values_and_life_stage_in_common():
    me = person(1, 0.1, interests=("gardening", "cooking"), values=("family",))
    stranger = person(2, 0.9, interests=("games",), values=("freedom",), life_stage="18-24")
    gardener = person(3, 0.9, interests=("gardening",), values=("freedom",), life_stage="18-24")
    kindred = person(4, 0.9, interests=("gardening", "cooking"), values=("family",), life_stage="18-24")
    same_age = person(5, 0.9, interests=("gardening", "cooking"), values=("family",))
    strategy = bridge(me, stranger, gardener, kindred, same_age)

    assert strategy.score(me, stranger) < strategy.score(me, gardener) < strategy.score(me, kindred)
    assert strategy.score(me, kindred) < strategy.score(me, same_age)


def test_bridge_requires_overlapping_free_time_unless_configured_otherwise():
    me, other = person(1, 0.1, hours=frozenset({1, 2})), person(2, 0.9, hours=frozenset({100}))

    assert bridge(me, other).score(me, other) is None
    assert bridge(me, other, require_availability_overlap=False).score(me, other) is not None


def test_bridge_rewards_more_overlapping_hours():
    me = person(1, 0.1, hours=frozenset(range(10)))
    one_hour, many = person(2, 0.9, hours=frozenset({0})), person(3, 0.9, hours=frozenset(range(5)))

    strategy = bridge(me, one_hour, many)

    assert strategy.score(me, one_hour) < strategy.score(me, many)


def test_bridge_proximity_counts_only_on_local_instances_and_can_be_required():
    me, neighbour, far = person(1, 0.1), person(2, 0.9), person(3, 0.9, region="Texas")

    assert bridge(me, neighbour, far).score(me, neighbour) == bridge(me, neighbour, far).score(me, far)
    local = {"local": {"enabled": True}}
    assert bridge(me, neighbour, far, **local).score(me, neighbour) > bridge(me, far, **local).score(me, far)
    required = {"local": {"enabled": True, "required": True}}
    assert bridge(me, far, **required).score(me, far) is None
    by_country = {"local": {"enabled": True, "required": True, "scope": "country"}}
    assert bridge(me, far, **by_country).score(me, far) is not None


def test_bridge_weights_come_from_the_settings():
    me = person(1, 0.1, interests=("gardening",))
    politics_only = bridge(me, weights={"difference": 1, "commonality": 0, "life_stage": 0, "availability": 0})
    gardener, opposite = person(2, 0.6, interests=("gardening",)), person(3, 1.0)

    assert politics_only.score(me, gardener) < politics_only.score(me, opposite)
    commonality_only = bridge(me, weights={"difference": 0, "commonality": 1, "life_stage": 0, "availability": 0})
    assert commonality_only.score(me, gardener) > commonality_only.score(me, opposite)


def test_bridge_refuses_someone_without_any_political_answer():
    me, silent = person(1, 0.1), person(2, None)

    assert bridge(me, silent).score(me, silent) is None


# --- bridge: suggest and pair ---------------------------------------------------------------------------

def test_suggest_ranks_best_first_within_the_limit_and_only_from_the_pool():
    me = person(1, 0.0, interests=("gardening",))
    people = [me, person(2, 1.0, interests=("gardening",)), person(3, 0.45), person(4, 1.0),
              person(5, 1.0, interests=("gardening",)), person(6, 0.05), person(7, 0.9, languages=("fr",))]
    strategy = bridge(*people)

    found = strategy.suggest(me, [1, 2, 3, 4, 6, 7, 999], 2)

    assert [s.user_id for s in found] == [2, 4]
    assert found[0].score > found[1].score
    assert [s.user_id for s in strategy.suggest(me, [1, 2, 3, 4, 6, 7], 10)] == [2, 4, 3]
    assert strategy.suggest(me, [6, 7], 5) == []
    assert strategy.suggest(me, [], 5) == []


def test_suggest_breaks_ties_by_user_id_and_scores_match_score():
    me = person(1, 0.0)
    twins = [person(user_id, 1.0) for user_id in (9, 4, 7)]
    strategy = bridge(me, *twins)

    found = strategy.suggest(me, [9, 4, 7], 3)

    assert [s.user_id for s in found] == [4, 7, 9]
    assert found[0].score == pytest.approx(strategy.score(me, twins[1]), abs=1e-6)


def test_suggest_counts_a_repeated_id_once_and_never_suggests_the_participant():
    me, other = person(1, 0.0), person(2, 1.0)

    found = bridge(me, other).suggest(me, [2, 1, 2, 2], 5)

    assert [s.user_id for s in found] == [2]


def oracle_total(strategy, people) -> float:
    """networkx's exact maximum total of the strategy's scores."""
    graph = nx.Graph()
    for i, a in enumerate(people):
        for b in people[i + 1:]:
            score = strategy.score(a, b)
            if score is not None and score > 0:
                graph.add_edge(a.user_id, b.user_id, weight=score)
    return sum(graph[a][b]["weight"] for a, b in nx.max_weight_matching(graph))


@pytest.mark.parametrize("allow_same_side", [False, True])
def test_pair_equals_the_oracle_on_a_small_cohort(allow_same_side):
    leans = [0.0, 0.1, 0.2, 0.3, 0.5, 0.55, 0.7, 0.8, 0.9, 1.0, 0.15, 0.95]
    likes = ["gardening", "cooking", "music", "games"]
    people = [person(i + 1, lean, interests=(likes[i % 4], likes[(i * 3) % 4]), hours=frozenset(range(i % 3, 6)))
              for i, lean in enumerate(leans)]
    strategy = bridge(*people, allow_same_side=allow_same_side, min_distance=0.2)

    pairs = strategy.pair([p.user_id for p in people] + [999])

    members = [user_id for pair in pairs for user_id in (pair.a, pair.b)]
    assert len(members) == len(set(members)) and 999 not in members
    by_id = {p.user_id: p for p in people}
    for pair in pairs:
        assert pair.score == pytest.approx(strategy.score(by_id[pair.a], by_id[pair.b]), abs=1e-6)
    assert sum(p.score for p in pairs) == pytest.approx(oracle_total(strategy, people), abs=1e-5)


def test_the_cohort_score_matrix_matches_pairwise_scores_across_blocks_and_tiles():
    rng = np.random.default_rng(3)
    likes = ["gardening", "cooking", "music", "games", "reading"]
    people = [person(i + 1, float(rng.integers(0, 7)) / 6, {"issue_guns": float(rng.integers(0, 5)) / 4},
                     interests=tuple(rng.choice(likes, 2, replace=False)), hours=frozenset(range(i % 4, 8)))
              for i in range(300)]  # more than one block (128 rows) and one tile (256)
    strategy = bridge(*people, allow_same_side=True)
    index = strategy.fresh_index()

    matrix = strategy.score_matrix(index, index.rows_for([p.user_id for p in people]))

    for i, j in rng.integers(0, 300, (400, 2)):
        expected = strategy.score(people[i], people[j]) if i != j else None
        assert (matrix[i, j] if np.isfinite(matrix[i, j]) else None) == pytest.approx(expected, abs=1e-6)


def test_pair_never_pairs_across_a_refusal():
    people = [person(1, 0.0), person(2, 0.1), person(3, 1.0, languages=("fr",))]

    assert bridge(*people).pair([1, 2, 3]) == []


def test_reasons_without_a_questionnaire_use_plain_words_from_shared_answers_only():
    me = person(1, 0.0, interests=("gardening", "volunteering"), shared=("interests",))
    other = person(2, 1.0, interests=("gardening", "volunteering"), shared=("interests", "lean"))

    (found,) = bridge(me, other).suggest(me, [2], 1)

    assert found.reason == "You both like gardening and volunteering."


# --- the bridge settings ------------------------------------------------------------------------------

def test_bridge_settings_refuse_a_preferred_distance_below_the_minimum_and_unknown_keys():
    with pytest.raises(ValueError, match=r"preferred_distance .* is below min_distance"):
        BridgeSettings(min_distance=0.5, preferred_distance=0.3)
    with pytest.raises(ValueError, match="every weight is 0"):
        BridgeSettings(weights={"difference": 0, "commonality": 0, "life_stage": 0, "availability": 0,
                                "proximity": 0})
    with pytest.raises(ValueError, match="extra"):
        BridgeSettings(min_distanse=0.3)


# --- contrast ---------------------------------------------------------------------------------------

ISSUES_LEFT = {"issue_guns": 1.0, "issue_climate": 1.0, "issue_economy": 0.0}


def test_contrast_ranks_the_biggest_disagreement_on_the_issues_first():
    me = person(1, 0.5, ISSUES_LEFT)
    opposite = person(2, 0.5, {"issue_guns": 0.0, "issue_climate": 0.0, "issue_economy": 1.0})
    partly = person(3, 0.5, {"issue_guns": 0.0, "issue_climate": 0.5, "issue_economy": 0.5})
    twin = person(4, 0.5, dict(ISSUES_LEFT))
    strategy = contrast(me, opposite, partly, twin)

    assert [s.user_id for s in strategy.suggest(me, [2, 3, 4], 5)] == [2, 3]
    assert strategy.score(me, opposite) == pytest.approx(1.0)
    assert strategy.score(me, twin) is None


def test_contrast_ignores_the_lean_and_needs_enough_issues_in_common():
    me = person(1, 0.0, {"issue_guns": 1.0})
    one_issue = person(2, 1.0, {"issue_guns": 0.0})

    assert contrast(me, one_issue).score(me, one_issue) is None  # min_issues: 2
    assert contrast(me, one_issue, min_issues=1).score(me, one_issue) == pytest.approx(1.0)
    same_issues = person(3, 1.0, {"issue_guns": 1.0})
    assert contrast(me, same_issues, min_issues=1).score(me, same_issues) is None


def test_contrast_stays_within_the_configured_distance_and_needs_a_language():
    me = person(1, 0.5, ISSUES_LEFT)
    texan = person(2, 0.5, {"issue_guns": 0.0, "issue_climate": 0.0, "issue_economy": 1.0}, region="Texas")
    speaks_french = person(3, 0.5, {"issue_guns": 0.0, "issue_climate": 0.0, "issue_economy": 1.0},
                           languages=("fr",))

    assert contrast(me, texan).score(me, texan) is not None
    assert contrast(me, texan, within="region").score(me, texan) is None
    assert contrast(me, texan, within="country").score(me, texan) is not None
    assert contrast(me, speaks_french).score(me, speaks_french) is None


def test_contrast_pairs_a_cohort_like_the_oracle():
    people = [person(i + 1, 0.5, {"issue_guns": (i % 5) / 4, "issue_climate": ((i * 2) % 5) / 4,
                                  "issue_economy": ((i * 3) % 5) / 4}) for i in range(12)]
    strategy = contrast(*people, min_disagreement=0.2)

    pairs = strategy.pair([p.user_id for p in people])

    assert sum(p.score for p in pairs) == pytest.approx(oracle_total(strategy, people), abs=1e-5)


# --- against the database: registration, live index, reasons from shared answers only ----------------------

@pytest.fixture
def oss_connect_settings():
    return {"plugins": {"questionnaire_yaml": None, "matching_bridge": None, "matching_contrast": None}}


def strategy_named(app, name):
    """The registered strategy `name` of the running app."""
    return app.extensions["oss_connect"].provider("matching_strategy", name)


def profiles_of(app, *user_ids):
    """The users' MatchingProfiles as core builds them."""
    from core.api import matching_profiles
    from core.db import database

    with app.app_context(), database.connection_context():
        return matching_profiles(user_ids)


def suggest(app, name, participant, pool, limit=5):
    """Call a registered strategy inside an app context, as core's services do."""
    from core.db import database

    with app.app_context(), database.connection_context():
        return strategy_named(app, name).suggest(participant, pool, limit)


OPPOSITE = {"lean": "6", "issue_guns": "1", "issue_immigration": "2", "issue_climate": "1", "issue_abortion": "2",
            "issue_economy": "5", "first_name": "Dale"}


def test_both_strategies_are_registered_under_their_names(app):
    assert isinstance(strategy_named(app, "bridge"), BridgeStrategy)
    assert isinstance(strategy_named(app, "contrast"), ContrastStrategy)


def test_a_private_interest_never_appears_in_a_reason(app, make_user):
    maria, dale = make_user("maria@example.org"), make_user("dale@example.org")
    complete_profile(app, maria, visibility={"interests": "private", "values": "partners"},
                     interests=["crafts", "gardening"], values=["family", "fairness"])
    complete_profile(app, dale, visibility={"interests": "partners", "values": "partners"},
                     interests=["crafts", "gardening"], values=["family"], **OPPOSITE)
    profiles = profiles_of(app, maria.id, dale.id)

    for me, other in ((maria.id, dale.id), (dale.id, maria.id)):
        (found,) = suggest(app, "bridge", profiles[me], [other])
        assert "making and fixing" not in found.reason.lower() and "craft" not in found.reason.lower()
        assert "garden" not in found.reason.lower()
        assert found.reason == "You both value family; you are both 35-44; you both live in Ohio; " \
                               "you see politics differently."


def test_shared_interests_appear_with_their_labels_and_a_private_lean_keeps_politics_out(app, make_user):
    maria, dale = make_user("maria@example.org"), make_user("dale@example.org")
    complete_profile(app, maria, visibility={"interests": "partners", "lean": "private", "values": "private"},
                     interests=["outdoors", "volunteering"])
    complete_profile(app, dale, visibility={"interests": "partners", "values": "partners"},
                     interests=["outdoors", "volunteering"], **OPPOSITE)
    profiles = profiles_of(app, maria.id, dale.id)

    (found,) = suggest(app, "bridge", profiles[dale.id], [maria.id])

    assert found.reason.startswith("You both like outdoors and nature and volunteering;")
    assert "politic" not in found.reason and "family" not in found.reason


def test_contrast_names_issues_only_when_both_share_their_answers(app, make_user):
    maria, dale = make_user("maria@example.org"), make_user("dale@example.org")
    complete_profile(app, maria, visibility={"issue_guns": "partners"})
    complete_profile(app, dale, visibility={"issue_guns": "partners", "issue_climate": "partners"}, **OPPOSITE)
    profiles = profiles_of(app, maria.id, dale.id)

    (found,) = suggest(app, "contrast", profiles[maria.id], [dale.id])

    assert found.reason == "You answered differently on “Gun laws should be stricter”."
    assert "climate" not in found.reason


def test_the_index_follows_profile_changes_and_new_participants(app, make_user):
    maria, dale = make_user("maria@example.org"), make_user("dale@example.org")
    complete_profile(app, maria)
    complete_profile(app, dale, **OPPOSITE)
    me = profiles_of(app, maria.id)[maria.id]
    assert [s.user_id for s in suggest(app, "bridge", me, [dale.id])] == [dale.id]

    complete_profile(app, dale, languages=["fr"], **OPPOSITE)  # no common language any more
    assert suggest(app, "bridge", me, [dale.id]) == []

    sam = make_user("sam@example.org")
    assert suggest(app, "bridge", me, [dale.id, sam.id]) == []  # no profile yet: not in the index
    complete_profile(app, sam, **{**OPPOSITE, "first_name": "Sam"})
    assert [s.user_id for s in suggest(app, "bridge", me, [dale.id, sam.id])] == [sam.id]


def test_an_incomplete_or_unknown_participant_is_never_suggested(app, make_user):
    maria = make_user("maria@example.org")
    complete_profile(app, maria)
    me = profiles_of(app, maria.id)[maria.id]

    assert suggest(app, "bridge", me, [maria.id, 12345]) == []
    assert suggest(app, "contrast", me, []) == []
