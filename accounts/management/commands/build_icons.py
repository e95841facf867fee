"""``python manage.py build_icons``: writes static/icons/sprite.svg from the icons named in
atlanset_portal/icons.py (Font Awesome Free SVGs of the installed django-bootstrap-static)."""

from django.core.management.base import BaseCommand

from atlanset_portal.icons import ICONS, SPRITE_PATH, build_sprite


class Command(BaseCommand):
    help = "Builds the portal's icon sprite (static/icons/sprite.svg) from the icons it names."

    def handle(self, *args, **options):
        text = build_sprite()
        SPRITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        SPRITE_PATH.write_text(text, encoding="utf-8")
        self.stdout.write(f"{SPRITE_PATH}: {len(ICONS)} icons, {len(text.encode())} bytes")
