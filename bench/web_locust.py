"""The locustfile of bench/web.py: signed-in editors browsing the desk web app.

Run by bench/web.py, never alone: it reads its plan from the JSON file named by
``SIJIL_WEB_BENCH_PLAN``::

    {"hosts": ["http://127.0.0.1:PORT", ...], "tokens": ["...", ...],
     "reports": [lowest id, highest id], "queries": ["...", ...],
     "think": [min s, max s], "seed": 7}

Each simulated user holds one session cookie of its own (``tokens[n]``, started by
sijil.desk.web_sessions before the run) and, with a think time between requests,
opens the inbox (half the time the next page of the one it saw last), opens a
random report, searches a word of the archive's vocabulary, and fetches the
references: the stylesheet (no session, no database) and ``/`` (the session is
resolved, then a redirect). Requests go to the hosts in turn (a round robin: two
``serve`` processes on one PostgreSQL database without a proxy). A page counts as
an error unless it is a 200 (303 for ``/``).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path
from typing import Any

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

PLAN: dict[str, Any] = json.loads(Path(os.environ["SIJIL_WEB_BENCH_PLAN"]).read_text())
HOSTS = itertools.cycle(PLAN["hosts"])
TOKENS = itertools.count()
REPORT_LINK = re.compile(r'/reports/(\d+)"')
RNG = random.Random(PLAN.get("seed", 7))


def base() -> str:
    return str(next(HOSTS))


class Editor(FastHttpUser):
    host = PLAN["hosts"][0]
    wait_time = between(*PLAN["think"])
    # the default 60 s would hide a hung server as one slow request per user
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        tokens = PLAN["tokens"]
        self.cookie = f"sijil_session={tokens[next(TOKENS) % len(tokens)]}"
        self.rng = random.Random(RNG.random())
        self.before: int | None = None

    def _get(self, path: str, name: str, *, expect: int = 200) -> str:
        with self.client.get(
            base() + path,
            name=name,
            headers={"Cookie": self.cookie},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != expect:
                response.failure(f"status {response.status_code}")
                return ""
            response.success()
            return response.text or ""

    @task(3)
    def inbox(self) -> None:
        if self.before is not None and self.rng.random() < 0.5:
            page = self._get(f"/inbox?before={self.before}", "inbox, a later page")
        else:
            page = self._get("/inbox", "inbox, first page")
        ids = [int(n) for n in REPORT_LINK.findall(page)]
        self.before = min(ids) if ids else None

    @task(3)
    def report(self) -> None:
        low, high = PLAN["reports"]
        self._get(f"/reports/{self.rng.randint(low, high)}", "report")

    @task(2)
    def search(self) -> None:
        query = self.rng.choice(PLAN["queries"])
        self._get(f"/search?q={_quote(query)}", "search")

    @task(1)
    def static(self) -> None:
        self._get("/static/app.css", "reference: /static/app.css")

    @task(1)
    def home(self) -> None:
        self._get("/", "reference: / (session, redirect)", expect=303)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@events.quitting.add_listener
def _quitting(environment: Any, **_: Any) -> None:
    # errors are reported by bench/web.py from the CSV; never fail the run here
    environment.process_exit_code = 0
