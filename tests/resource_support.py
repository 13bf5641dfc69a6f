"""Large generated inputs for the resource-bound tests and ``benchmarks/bench_shadowed.py``."""

from __future__ import annotations


def many_rules_policy(n: int) -> str:
    """A policy of ``n`` rules of four shapes and a catch-all.

    Every field is in the decided fragment, so the all-traces lints are exact.  Rule
    ``r22`` (``/api/22`` after ``/api/2`` with a longer duration) is shadowed, as is every
    later rule of its kind whose prefix and duration an earlier one covers.
    """
    rows = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            match = f'"http.route = \\"/r{i}\\""'
        elif kind == 1:
            match = f'"service.name = \\"svc{i}\\" and http.status >= {400 + i % 100}"'
        elif kind == 2:
            match = f'"span(http.route starts-with \\"/api/{i}\\" and duration > {i % 50 + 1}s)"'
        else:
            match = f'"root.http.method = \\"M{i}\\""'
        action = ("keep", "drop", "sample(1/10)")[i % 3]
        rows.append(f"    r{i},,{match},{action},{n + 10 - i}")
    rows.append("    rest,,true,sample(1/100),0")
    return (
        "nectar_policy{version,name,budget_per_second,rules}:\n  1\n  big\n  100000\n"
        f"  rules[{n + 1}]{{name,description,match,action,priority}}:\n" + "\n".join(rows) + "\n"
    )
