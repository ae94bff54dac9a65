"""What a kept IMAP connection remembers between pages stays within its bound: sorted UID
lists and threads share a budget, the least recently used go first, the newest stays."""

from array import array

from webmail.mailbox import session
from webmail.mailbox.threads import Threads


def test_lists_beyond_the_budget_go_least_recently_used_first(monkeypatch):
    monkeypatch.setattr(session, "MAX_KEPT_UIDS", 1000)
    state = session.State()
    session.keep(state, state.sorted, ("INBOX", "DATE"), (1, 2, 400), range(400))
    session.keep(state, state.sorted, ("INBOX", "SUBJECT"), (1, 2, 400), range(400))
    assert session.kept(state.sorted, ("INBOX", "DATE"), (1, 2, 400)) is not None  # used again: now the newest
    session.keep(state, state.threads, ("INBOX", "DATE"), (1, 2, 400), Threads([[1, 2], [3]] * 100))
    assert list(state.sorted) == [("INBOX", "DATE")] and list(state.threads) == [("INBOX", "DATE")]
    # One list bigger than the whole budget is still kept (alone): the page needs it.
    big = session.keep(state, state.sorted, ("Archive", "DATE"), (5, 9, 5000), range(5000))
    assert list(state.sorted) == [("Archive", "DATE")] and not state.threads and len(big) == 5000


def test_a_list_of_another_folder_state_is_not_handed_out():
    state = session.State()
    session.keep(state, state.sorted, ("INBOX", "DATE"), (1, 2, 3), [3, 2, 1])
    assert session.kept(state.sorted, ("INBOX", "DATE"), (1, 3, 4)) is None  # new mail since
    assert list(session.kept(state.sorted, ("INBOX", "DATE"), (1, 2, 3))) == [3, 2, 1]


def test_threads_are_kept_compact_and_read_back_whole():
    threads = Threads([[5, 7, 9], [2], [11, 12]])
    assert len(threads) == 3 and threads.size == 6 + 3
    assert [list(t) for t in threads[0:2]] == [[5, 7, 9], [2]]
    assert list(threads[-1]) == [11, 12] and list(threads[1]) == [2]
    assert isinstance(threads.uids, array) and threads.uids.itemsize == 4
