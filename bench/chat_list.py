#!/usr/bin/env python
"""The chat screen's ticket list (/chat/api/tickets) for a User in 3 queues, with 100 000 tickets
and 1 000 000 messages stored: first pages of each tab and searches.

The database is bench/ticket_list.py's (COPY bulk load, 6 queues, a User in the first 3). Logs in
through the login form (session cookie) and times the JSON endpoint the screen calls, through the
whole Flask stack in this process: Atendendo, Aguardando, Resolvidos and its second page, then
searches in Resolvidos (the largest tab: 70 % of the tickets) by name, number, common surname,
message text (common, rare, found nowhere) and two letters. Ceiling, measured in the same run: the
same page and tab badges as hand-written SQL (psycopg, no ORM, no JSON; each case checks that the
ids agree), and our ratio. `--explain` prints EXPLAIN ANALYZE of the searches as the app sends them.

Usage: .venv/bin/python bench/chat_list.py [--tickets 100000] [--messages-per-ticket 10] [--runs 200] [--explain]
Needs PostgreSQL on 127.0.0.1 as user postgres (BENCH_PG_ADMIN_DSN to change).
"""
import argparse
import sys
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ticket_list import (PASSWORD, bench_stack, machine_line, raw_ceiling, raw_count, raw_page,  # noqa: E402
                         report, search_cases, timed)

PAGE = 31  # the screen's page (30) and the one more row that tells whether there is a next page


def explain(app, user_id: int, texts: list):
    """EXPLAIN ANALYZE of the Resolvidos search query exactly as the view builds it."""
    from sqlalchemy import text as sql_text

    from app.models import Member, Ticket, TicketStatus, db
    from app.services import search
    from app.services.visibility import visible_tickets

    with app.app_context():
        user = db.session.get(Member, user_id)
        base = visible_tickets(user).where(Ticket.status == TicketStatus.CLOSED)
        for text in texts:
            stmt = base.where(search.page_clause(base, text, PAGE)).order_by(*search.LIST_ORDER).limit(PAGE)
            sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
            print(f"\nEXPLAIN ANALYZE, Resolvidos searched for {text!r}:")
            for (line,) in db.session.execute(sql_text("EXPLAIN (ANALYZE, COSTS OFF) " + sql.replace("%%", "%"))):
                print("  " + line)
        db.session.remove()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages-per-ticket", type=int, default=10)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    with bench_stack(args.tickets, args.messages_per_ticket) as bench:
        from tests.conftest import login

        app, dsn, runs, uid = bench.app, bench.dsn, args.runs, bench.user_id
        client = app.test_client()
        with app.app_context():
            assert login(client, bench.email, PASSWORD).status_code == 302

        def get(url):
            def call():
                with app.app_context():  # a fresh `g` per request, as in a real server
                    response = client.get(url)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
                return response.get_json()
            return call

        visible = f"(t.queue_id = ANY(ARRAY{bench.mine}) OR t.user_id = {uid})"
        mine_open = f"t.status = 'open' AND t.user_id = {uid} AND {visible}"
        pending = f"t.status = 'pending' AND {visible}"
        closed = f"t.status = 'closed' AND {visible}"
        badges = (raw_count(mine_open), raw_count(pending))  # every answer carries the tab badges
        cases = [  # label, url, raw page
            ("Atendendo (open, mine)", "/chat/api/tickets?tab=open", raw_page(mine_open, PAGE)),
            ("Aguardando (pending)", "/chat/api/tickets?tab=pending", raw_page(pending, PAGE)),
            ("Resolvidos (closed)", "/chat/api/tickets?tab=closed", raw_page(closed, PAGE)),
            ("Resolvidos, page 2", None, raw_page(closed, PAGE, PAGE - 1)),
        ]
        searches = search_cases(dsn, bench.mine, uid)
        for label, text, contact, message in searches:
            cases.append((f"Resolvidos, search {label}", f"/chat/api/tickets?tab=closed&q={quote(text)}",
                          raw_page(closed, PAGE, 0, contact, message)))
        measured, cursor = [], None
        for label, url, page_sql in cases:
            url = url or f"/chat/api/tickets?tab=closed&cursor={cursor}"
            times, body = timed(get(url), runs)
            if label == "Resolvidos (closed)":
                cursor = body["cursor"]
            raw, raw_ids = raw_ceiling(dsn, runs, page_sql, *badges)
            # the screen shows 30 and keeps the 31st as its cursor
            assert [t["id"] for t in body["tickets"]] == raw_ids[:PAGE - 1], (label, "the view and the raw SQL disagree")
            measured.append((label, url, times, raw, body))

        machine_line(runs, bench.load_seconds, dsn)
        for label, url, times, raw, body in measured:
            report(f"GET {url} ({label}: {len(body['tickets'])} on the page)", times, raw)
        print("(ceiling: the same page and the two tab badges as three hand-written SQL queries, psycopg, "
              "no ORM or JSON)")
        if args.explain:
            explain(app, uid, [text for _, text, _, _ in searches])


if __name__ == "__main__":
    main()
