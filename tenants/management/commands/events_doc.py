from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tenants.events import events_markdown

DOC = Path("docs") / "events.md"


class Command(BaseCommand):
    help = "Write docs/events.md from the outbound event registry (tenants/events.py); --check only compares."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Fail when docs/events.md is not up to date.")

    def handle(self, *args, check: bool = False, **options):
        path = Path(settings.BASE_DIR) / DOC
        text = events_markdown()
        if check:
            if not path.exists() or path.read_text() != text:
                raise CommandError(f"{DOC} is out of date: run `manage.py events_doc`.")
            self.stdout.write(f"{DOC} is up to date.")
            return
        path.write_text(text)
        self.stdout.write(f"Wrote {DOC} ({len(text.splitlines())} lines).")
