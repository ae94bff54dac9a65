"""Robinson/Fisher scoring over a toy model."""

from antispam.classifier import MemoryCounts, chi2q, score

SPAM = ["cheap viagra click now free money", "free money offer click now", "viagra offer cheap pills click"]
HAM = ["meeting agenda tomorrow project", "project review budget schedule", "agenda for the release meeting"]


def toy_model() -> MemoryCounts:
    model = MemoryCounts()
    for text in SPAM:
        model.learn(set(text.split()), spam=True)
    for text in HAM:
        model.learn(set(text.split()), spam=False)
    return model


def test_it_scores_spammy_text_high_and_hammy_text_low():
    model = toy_model()
    assert score({"cheap", "viagra", "click", "free"}, model).score > 90
    assert score({"project", "meeting", "agenda"}, model).score < 10


def test_why_lists_the_tokens_that_weighed_most_each_way():
    spammy, hammy = score({"viagra", "click", "meeting", "unknownword"}, toy_model()).why()
    assert {t for t, _ in spammy} == {"viagra", "click"}
    assert [t for t, _ in hammy] == ["meeting"]
    assert all(f > 0.5 for _, f in spammy) and all(f < 0.5 for _, f in hammy)


def test_unknown_tokens_give_no_clue_and_an_unsure_score():
    result = score({"never", "seen"}, toy_model())
    assert result.score == 50.0 and result.clues == []


def test_unlearning_takes_a_message_back_out():
    model = toy_model()
    before = dict(model.tokens), model.nspam
    model.learn({"cheap", "brandnew"}, spam=True)
    model.learn({"cheap", "brandnew"}, spam=True, sign=-1)
    assert (dict(model.tokens), model.nspam) == before


def test_chi2q_matches_known_values():
    assert abs(chi2q(0.0, 2) - 1.0) < 1e-12
    assert abs(chi2q(2.0, 2) - 0.36787944) < 1e-6  # e^-1
    assert chi2q(1000.0, 4) < 1e-100
