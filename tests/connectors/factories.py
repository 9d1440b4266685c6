"""factory-boy factories for connectors (tenant schema: use inside tenant_context)."""

import factory

from connectors.models import Connection


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection
        skip_postgeneration_save = True

    vendor = Connection.Vendor.SHOPIFY
    direction = Connection.Direction.SOURCE
    name = factory.Sequence(lambda n: f"Shop {n}")
    config = factory.LazyAttribute(lambda o: {"shop_domain": "acme-outfitters.myshopify.com", "api_version": "2025-07"})
    credentials_encrypted = ""

    @factory.post_generation
    def secrets(self, create, extracted, **kwargs):
        self.credentials = (extracted or {}).get("credentials", {"access_token": "shpat_test_0123456789abcdef"})
        self.webhook_secret = (extracted or {}).get("webhook_secret", "shopify-app-secret-for-tests")
        if create:
            self.save()
