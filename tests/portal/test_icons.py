"""Icons come from the portal's own SVG sprite (atlanset_portal/icons.py), not from the Font Awesome
webfonts, and static files go out compressed."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.template import Context, Template
from django.urls import reverse
from whitenoise.base import WhiteNoise

from atlanset_portal.icons import ICONS, SPRITE_PATH, UnknownIcon, build_sprite
from tests.deals.factories import make_client, make_deal

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_ICON = re.compile(r'{%\s*icon\s+"([^"]+)"')
USED_ICON = re.compile(r'<use href="[^"#]*#([^"]+)"')
SYMBOL = re.compile(r'<symbol id="([^"]+)"')
WEBFONT_TRACES = ("fontawesome", "webfonts", "fa-solid", "fa-brands", ".woff")


def sprite_symbols() -> set[str]:
    return set(SYMBOL.findall(SPRITE_PATH.read_text(encoding="utf-8")))


def portal_files(pattern: str) -> list[Path]:
    return [path for path in ROOT.rglob(pattern) if not {".venv", "var", "node_modules"} & set(path.parts)]


def test_the_committed_sprite_is_the_one_the_icon_list_builds():
    assert SPRITE_PATH.read_text(encoding="utf-8") == build_sprite(), "run: python manage.py build_icons"
    assert sprite_symbols() == set(ICONS)


def test_every_icon_a_template_names_is_in_the_sprite():
    used = {name for path in portal_files("*.html") for name in TEMPLATE_ICON.findall(path.read_text())}
    assert used, "templates draw their icons with {% icon %}"
    assert used <= sprite_symbols(), used - sprite_symbols()


def test_no_template_or_module_still_uses_the_webfont_classes():
    leftovers = [
        str(path.relative_to(ROOT))
        for path in portal_files("*.html") + portal_files("*.py") + portal_files("*.js")
        if re.search(r"\bfa-(solid|brands|regular) ", path.read_text(encoding="utf-8"))
        and path.name != "test_icons.py"
    ]
    assert leftovers == []


def test_the_webfonts_are_not_served_at_all():
    assert finders.find("fontawesome/css/all.min.css") is None
    assert finders.find("fontawesome/webfonts/fa-solid-900.woff2") is None
    assert finders.find("icons/sprite.svg")


def test_an_unknown_icon_name_is_an_error_not_an_empty_box():
    with pytest.raises(UnknownIcon):
        Template('{% icon "no-such-icon" %}').render(Context())


def test_the_icon_tag_draws_a_hidden_use_of_the_sprite():
    html = Template('{% icon "phone" "me-1" %}').render(Context())
    assert html == (
        '<svg class="icon me-1" aria-hidden="true"><use href="/static/icons/sprite.svg#phone"/></svg>'
    )


@pytest.mark.django_db
def test_pages_draw_icons_from_the_sprite_and_never_load_the_webfonts(client, hunter, sales_head):
    customer = make_client(acting_user=hunter, name="Салон «Шарм»", phones=["+79124112233"], email="a@b.ru")
    deal = make_deal(acting_user=hunter, client=customer)
    client.force_login(hunter)
    drawn = set()
    for url in (
        reverse("deals:board"),
        reverse("deals:detail", args=[deal.pk]),
        reverse("clients:detail", args=[customer.pk]),
        reverse("kpi:my_day"),
    ):
        page = client.get(url).content.decode()
        assert not [trace for trace in WEBFONT_TRACES if trace in page], url
        drawn |= set(USED_ICON.findall(page))
    client.force_login(sales_head)
    page = client.get(reverse("kpi:dashboard")).content.decode()
    assert not [trace for trace in WEBFONT_TRACES if trace in page]
    drawn |= set(USED_ICON.findall(page))
    # The bell, the board card's call, messengers, map and activity buttons, the client's e-mail.
    assert {"bell", "user", "phone", "whatsapp", "telegram", "location-dot", "pen", "envelope"} <= drawn
    assert drawn <= sprite_symbols()
    sprite = client.get("/static/icons/sprite.svg")
    assert sprite.status_code == 200
    assert sprite["Content-Type"].startswith("image/svg+xml")


def test_collected_static_files_are_served_with_brotli_and_gzip(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    assert not (tmp_path / "fontawesome").exists()
    server = WhiteNoise(application=None)
    server.add_files(str(tmp_path), prefix="/static/")
    (sprite,) = [path for path in (tmp_path / "icons").glob("sprite.*.svg")]
    (css,) = [path for path in (tmp_path / "bootstrap" / "css").glob("bootstrap.min.*.css")]
    for path in (sprite, css):
        url = "/static/" + path.relative_to(tmp_path).as_posix()
        asked = server.files[url]
        brotli = asked.get_response("GET", {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"})
        gzip = asked.get_response("GET", {"HTTP_ACCEPT_ENCODING": "gzip, deflate"})
        assert dict(brotli.headers)["Content-Encoding"] == "br"
        assert dict(gzip.headers)["Content-Encoding"] == "gzip"
        assert int(dict(brotli.headers)["Content-Length"]) < path.stat().st_size / 2
    # Bootstrap's builds that no page links are left out of the collection.
    assert not list((tmp_path / "bootstrap" / "css").glob("bootstrap.rtl*"))


@pytest.mark.parametrize(
    ("environment", "collected"),
    [
        ({"DEBUG": "0", "SECRET_KEY": "k8#Fq2!vZr7@pLw4$Xn9^Tb1&Hm6*Jc3(Ys5)Ud0_Ge8+Ai2=Ko7"}, True),
        ({"DEBUG": "1", "STATIC_COLLECTED": "1"}, True),  # make run (scripts/run-portal)
        ({"DEBUG": "1"}, False),
    ],
)
def test_production_and_make_run_serve_collected_compressed_files(environment, collected):
    env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "STATIC_COLLECTED"}}
    env.update(environment, DJANGO_SETTINGS_MODULE="atlanset_portal.settings.base")
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.STORAGES['staticfiles']['BACKEND'], s.WHITENOISE_USE_FINDERS)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    backend, finders_used = shown.stdout.split()
    assert (backend == "whitenoise.storage.CompressedManifestStaticFilesStorage") is collected
    assert (finders_used == "False") is collected
    # make run collects with the same setting its server runs with, or it collects uncompressed files.
    run_portal = (ROOT / "scripts" / "run-portal").read_text()
    assert run_portal.index("export STATIC_COLLECTED=1") < run_portal.index("manage.py collectstatic")
