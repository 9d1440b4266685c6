"""core.api.serializers.ModelOutput: an output serializer that names its model's fields in
`Meta.fields` shows them in that order, typed by the model (decimal places, nullability), all
read-only; a subclass's own fields follow its parent's without a Meta of its own."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from commerce.models import OrderLine
from core.api.serializers import ModelOutput


class LineOutput(ModelOutput):
    title = serializers.CharField(source="sku")

    class Meta:
        model = OrderLine
        fields = ("position", "title", "unit_price")


class LineWithUpperOutput(LineOutput):
    upper = serializers.SerializerMethodField()

    def get_upper(self, line: OrderLine) -> str:
        return line.sku.upper()


def test_model_output_shows_the_meta_fields_in_order_with_the_models_decimal_places():
    line = OrderLine(position=2, sku="tee-blk", unit_price=Decimal("19.9"))
    assert list(LineOutput(line).data.items()) == [("position", 2), ("title", "tee-blk"), ("unit_price", "19.9000")]


def test_model_output_fields_are_read_only():
    fields = LineOutput().fields
    assert [name for name, field in fields.items() if field.read_only] == ["position", "unit_price"]


def test_a_subclass_shows_its_own_fields_after_its_parents():
    line = OrderLine(position=0, sku="mug", unit_price=Decimal("5"))
    assert LineWithUpperOutput(line).data == {"position": 0, "title": "mug", "unit_price": "5.0000", "upper": "MUG"}
    assert list(LineWithUpperOutput(line).data) == ["position", "title", "unit_price", "upper"]
