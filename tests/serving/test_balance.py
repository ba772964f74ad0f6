"""How a serving worker decides to let connections go (balance.py): from its own count and its siblings', shared
through a file; the daemon-level behaviour is in test_workers.py."""

from __future__ import annotations

from jupyter_mlops.serving.balance import FILE_NAME, ConnectionBalance


def test_a_worker_over_its_share_lets_go_of_the_excess_and_no_more(tmp_path) -> None:
    held = {0: 24, 1: 8}
    worker_0 = ConnectionBalance(tmp_path, 0, 2, lambda: held[0])
    worker_1 = ConnectionBalance(tmp_path, 1, 2, lambda: held[1])
    worker_1.update()
    assert worker_0.update() == 8  # even share 16: 24 - 16
    assert worker_1.update() == 0 and not worker_1.let_go()
    assert [worker_0.let_go() for _ in range(10)] == [True] * 8 + [False] * 2
    assert worker_0.rebalanced == 8

    held[0], held[1] = 17, 15  # one over: it goes
    worker_1.update()
    assert worker_0.update() == 1
    held[0], held[1] = 17, 16  # an odd total: the share rounds up to 17, nothing moves
    worker_1.update()
    assert worker_0.update() == 0 and not worker_0.let_go()

    worker_0.close()  # a stopped worker holds nothing
    assert worker_1.counts() == [0, 16]
    worker_1.close()


def test_a_worker_alone_never_lets_a_connection_go(tmp_path) -> None:
    alone = ConnectionBalance(tmp_path, 0, 1, lambda: 100)
    assert alone.update() == 0 and not alone.let_go()
    assert not (tmp_path / FILE_NAME).exists()
