"""The API base every app builds on: authentication, scopes and throttles (`auth`), one error shape,
pagination and the strict serializer (`errors`), the output serializer of a model (`serializers`),
Idempotency-Key (`idempotency`), the view bases (`views`), and what the principal-owning layer
registers for them (`backends`)."""
