from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kpi.models import Activity, CallRecord

CSV = (
    "call_id;started_at;extension;other_number;direction;duration_s;recording_url\n"
    "c-1;03.03.2026 11:00;101;8 912 345-67-89;outgoing;120;\n"
    "c-2;03.03.2026 11:05;999;8 912 345-67-80;outgoing;60;\n"
    "c-3;не дата;101;8 912 345-67-81;outgoing;60;\n"
)


def test_import_calls_reports_and_imports_once(hunter, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(CSV, encoding="utf-8-sig")
    out = StringIO()
    call_command("import_calls", str(path), stdout=out)
    assert "Новых звонков: 2" in out.getvalue()
    assert "без хантера: 1" in out.getvalue()
    assert "строка 4" in out.getvalue()
    call_command("import_calls", str(path), stdout=StringIO())
    assert CallRecord.objects.count() == 2
    assert Activity.objects.filter(owner=hunter, source="telephony").count() == 1


def test_import_calls_refuses_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="Файл не найден"):
        call_command("import_calls", str(tmp_path / "nope.csv"))
