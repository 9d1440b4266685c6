"""`ModelOutput`: the output serializer of a model instance (the HackSoft styleguide's
OutputSerializer, as a DRF ModelSerializer).

`Meta.fields` names what the response shows, in order; a model field needs no line of its own (its
type, choices, decimal places and nullability come from the model), only what is not a plain model
field is declared (a method, a `source=`, a rename, a nested serializer). Every field is read-only,
so the schema lists each one as required in the response. A subclass that declares more fields
shows them after its parent's, as a plain Serializer subclass does, without repeating the Meta."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class ModelOutput(serializers.ModelSerializer):
    def get_field_names(self, declared_fields: dict, info: Any) -> tuple[str, ...]:
        names = tuple(self.Meta.fields)
        return (*names, *(name for name in declared_fields if name not in names))

    def get_extra_kwargs(self) -> dict[str, dict]:
        extra_kwargs = super().get_extra_kwargs()
        for name in self.Meta.fields:
            extra_kwargs.setdefault(name, {})["read_only"] = True
        return extra_kwargs
