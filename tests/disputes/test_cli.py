"""`avnz disputes import FILE --company ...` as an operator runs it."""

from pathlib import Path

from tests.test_cli import _avnz


def test_the_cli_reports_each_refused_row(tmp_path: Path) -> None:
    assert _avnz(tmp_path, "migrate").returncode == 0
    source = tmp_path / "disputes.csv"
    source.write_text(
        "provider,dispute_id,transaction_id,status,amount,currency\n"
        "nmi,cb-1,1234567,open,1999,USD\n"
        "nmi,cb-2,1234568,open,12.5,USD\n"
    )
    result = _avnz(tmp_path, "disputes", "import", str(source), "--company", "com_none")
    assert result.returncode == 0, result.stderr
    assert "row 2: no nmi payment '1234567' in this company" in result.stderr
    assert "row 3: amount '12.5' is not an integer of minor units" in result.stderr
    assert "0 disputes created, 0 updated, 2 rows refused" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("id,amount\n1,2\n")
    refused = _avnz(tmp_path, "disputes", "import", str(bad), "--company", "com_none")
    assert refused.returncode == 1
    assert "lacks the columns" in refused.stderr
