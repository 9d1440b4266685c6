from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


def validation_to_command_error(error: ValidationError) -> CommandError:
    if hasattr(error, "error_dict"):
        text = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    else:
        text = " ".join(error.messages)
    return CommandError(text)
