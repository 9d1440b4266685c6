from django.core.management.base import BaseCommand

from tenants.demo import DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Create (or refresh) the demo partner, its two retail tenants and their people. Idempotent."

    def handle(self, *args, **options):
        logins = demo_seed()
        self.stdout.write(self.style.SUCCESS("Demo ready. Sign in with:"))
        for login in logins:
            self.stdout.write(f"  {login.area:<38} {login.url:<44} {login.email}")
        self.stdout.write(f"  Password for every demo login: {DEMO_PASSWORD}")
