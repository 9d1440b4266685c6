import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from portal.demo.seed import DEMO_PASSWORD, demo_seed, demo_seed_steps


class Command(BaseCommand):
    help = "Create (or refresh) the demo partner, its two retail tenants and their people. Idempotent."

    def handle(self, *args, **options):
        with tqdm(total=demo_seed_steps(), desc="seeding demo", unit="step", file=sys.stderr) as bar:

            def advance(step: str) -> None:
                bar.set_postfix_str(step)
                bar.update()

            logins = demo_seed(progress=advance)
        self.stdout.write(self.style.SUCCESS("Demo ready. Sign in with:"))
        for login in logins:
            self.stdout.write(f"  {login.area:<38} {login.url:<44} {login.email}")
        self.stdout.write(f"  Password for every demo login: {DEMO_PASSWORD}")
