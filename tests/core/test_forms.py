from django import forms
from django.core.exceptions import ValidationError

from core.forms import form_errors_add


class NameForm(forms.Form):
    name = forms.CharField()


def _bound() -> NameForm:
    form = NameForm(data={"name": "x"})
    assert form.is_valid()
    return form


def test_field_errors_go_on_their_field_and_unknown_fields_on_the_form():
    form = _bound()
    form_errors_add(form, ValidationError({"name": "Taken.", "slug": "Bad slug."}))
    assert form.errors == {"name": ["Taken."], "__all__": ["Bad slug."]}


def test_an_error_without_a_field_goes_on_the_form():
    form = _bound()
    form_errors_add(form, ValidationError(["First.", "Second."]))
    assert form.errors == {"__all__": ["First.", "Second."]}
