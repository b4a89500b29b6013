"""The Table helper and the template filters, without a database."""

import csv
import io
from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from avnz.core import clock
from avnz.web.tables import Column, Filter, Table, csv_safe
from avnz.web.templating import ago, auto_breadcrumbs, dt, money


def _request(query: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/things",
            "query_string": query.encode(),
            "headers": [],
        }
    )


def _table(query: str = "") -> Table:
    return Table.from_request(
        _request(query),
        id="things",
        columns=[Column("name", "Name", sortable=True), Column("note", "Note", hidden=True)],
        filters=[
            Filter("status", "Status", options=(("ok", "Fine"), ("bad", "Broken"))),
            Filter("from", "From", "date_from"),
            Filter("to", "To", "date_to"),
        ],
        default_sort="-name",
        export_name="my things/2026",
    )


def test_csv_cells_that_a_spreadsheet_would_run_are_defused() -> None:
    for risky in ("=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx"):
        assert csv_safe(risky) == "'" + risky
    assert csv_safe("plain") == "plain"
    assert csv_safe(None) == ""
    assert csv_safe(1999) == "1999"
    assert csv_safe(-5) == "'-5"  # a negative number reads as a formula start too
    assert csv_safe(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == "2026-01-02T03:04:00+00:00"


def test_csv_export_has_every_column_and_a_safe_file_name() -> None:
    table = _table()
    response = table.csv_response([{"name": "=HYPERLINK()", "note": "hidden"}])
    assert response.headers["content-disposition"] == 'attachment; filename="my-things-2026.csv"'
    rows = list(csv.reader(io.StringIO(bytes(response.body).decode())))
    assert rows == [["Name", "Note"], ["'=HYPERLINK()", "hidden"]]


def test_unknown_filters_and_sorts_are_ignored() -> None:
    table = _table("status=ok&evil=1&sort=password&page=3&page_size=7")
    assert table.params == {"status": "ok"}
    assert table.sort == "-name"
    assert table.page == 3
    assert table.page_size == 25  # only the offered sizes


def test_pills_remove_their_own_filter_and_keep_the_rest() -> None:
    table = _table("status=bad&from=2026-01-01&sort=name")
    pills = {pill.label: pill.remove_url for pill in table.pills}
    assert pills == {
        "Status: Broken": "/things?from=2026-01-01&sort=name",
        "From: 2026-01-01": "/things?status=bad&sort=name",
    }


def test_sort_links_toggle_the_direction() -> None:
    name = Column("name", "Name", sortable=True)
    assert _table("sort=name").sort_url(name) == "/things?sort=-name"
    assert _table("sort=-name").sort_url(name) == "/things?sort=name"


def test_date_filters_cover_whole_utc_days() -> None:
    table = _table("from=2026-03-01&to=2026-03-02")
    assert table.date_value("from") == datetime(2026, 3, 1, tzinfo=UTC)
    end = table.date_value("to")
    assert end is not None and end.date().isoformat() == "2026-03-02" and end.hour == 23
    assert _table("from=yesterday").date_value("from") is None


def test_money_uses_the_currency_s_minor_unit() -> None:
    assert money(1999, "USD") == "$19.99"
    assert money(1999, "JPY") == "¥1,999"
    assert money(1999, "KWD") == "KWD1.999"
    assert money(None, "USD") == "—"


def test_dates_read_as_utc_and_ago_counts_back_from_the_clock() -> None:
    moment = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    assert dt(moment) == "2026-05-01 12:30 UTC"
    assert dt(moment.replace(tzinfo=None)) == "2026-05-01 12:30 UTC"
    clock.set_source(lambda: moment + timedelta(minutes=5))
    assert ago(moment) == "5 min ago"
    clock.set_source(lambda: moment + timedelta(days=2, hours=1))
    assert ago(moment) == "2 d ago"
    clock.set_source(lambda: moment + timedelta(seconds=20))
    assert ago(moment) == "just now"


def test_breadcrumbs_come_from_the_path_when_a_page_names_none() -> None:
    existing = frozenset({"/settings/integrations", "/merchant-accounts"})
    assert auto_breadcrumbs("/settings/integrations", existing) == [
        ("Settings", None),
        ("Integrations", "/settings/integrations"),
    ]
    assert auto_breadcrumbs("/merchant-accounts/ma_1", existing) == [
        ("Merchant accounts", "/merchant-accounts"),
        ("ma_1", None),
    ]
    assert auto_breadcrumbs("/", existing) == []


def test_selected_ids_are_read_trimmed_and_bounded() -> None:
    assert _table("ids=pay_1,%20pay_2,,").only_ids == ("pay_1", "pay_2")
    assert _table("ids=" + "x" * 65).only_ids == ()
    assert len(_table("ids=" + ",".join(f"p{i}" for i in range(600))).only_ids) == 500
