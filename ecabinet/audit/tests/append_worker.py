"""Append audit entries from several threads of one process (run by the concurrency tests).

    python -m ecabinet.audit.tests.append_worker --threads 8 --count 10 --tag p0

The database is whatever ``ECABINET_DATABASE_URL`` names, so the test can point several of these
processes at its own test database at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--count", type=int, default=10, help="entries per thread")
    parser.add_argument("--tag", default="w")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecabinet.settings")
    import django

    django.setup()
    from django.db import connection

    from ecabinet.audit.actions import record

    start = threading.Barrier(args.threads)
    failures: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            start.wait()
            for i in range(args.count):
                record("test.concurrent", object_type="worker", object_id=f"{args.tag}-{thread}-{i}", details={"thread": thread, "i": i})
        except BaseException as exc:  # report every failure, not only the first thread's
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for exc in failures:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
