from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from core.forms import UploadField, form_apply, form_errors_add
from mappings.forms import AccountsImportForm
from promotions.forms import PriceListImportForm


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


def test_form_apply_runs_the_action_with_the_cleaned_data():
    form = NameForm(data={"name": "x"})
    assert form_apply(form, lambda data: data["name"].upper()) == (True, "X")


def test_form_apply_puts_a_refusal_on_the_form():
    def refuse(data):
        raise ValidationError({"name": "Taken."})

    form = NameForm(data={"name": "x"})
    assert form_apply(form, refuse) == (False, None)
    assert form.errors == {"name": ["Taken."]}


def test_form_apply_does_not_run_the_action_for_an_invalid_form():
    form = NameForm(data={})
    assert form_apply(form, lambda data: 1 / 0) == (False, None)
    assert "name" in form.errors


class UploadForm(forms.Form):
    file = UploadField()


def test_an_upload_of_2_mb_is_accepted():
    form = UploadForm(files={"file": SimpleUploadedFile("a.csv", b"x" * (2 * 1024 * 1024))})
    assert form.is_valid()


def test_an_upload_over_2_mb_is_refused_on_its_field():
    form = UploadForm(files={"file": SimpleUploadedFile("a.csv", b"x" * (2 * 1024 * 1024 + 1))})
    assert form.errors == {"file": ["The file is larger than 2 MB."]}


def test_both_csv_imports_refuse_files_over_2_mb():
    big = b"x" * (2 * 1024 * 1024 + 1)
    accounts = AccountsImportForm(files={"file": SimpleUploadedFile("chart.csv", big)})
    prices = PriceListImportForm(data={"mode": "merge"}, files={"file": SimpleUploadedFile("prices.csv", big)})
    assert accounts.errors == {"file": ["The file is larger than 2 MB."]}
    assert prices.errors == {"file": ["The file is larger than 2 MB."]}
