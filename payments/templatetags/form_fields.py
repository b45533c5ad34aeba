"""The widget of a field in templates/partials/field.html, described by the elements the
partial really renders: its help text (when shown) and its error slot."""

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def described_widget(field: BoundField, has_help: bool = False) -> SafeString:
    """`field` as HTML with aria-describedby naming `<id>_helptext` (if `has_help`) and
    `<id>_error`, and aria-invalid="true" while it has errors (Django adds that one)."""
    ids = [f"{field.auto_id}_helptext"] if has_help else []
    ids.append(f"{field.auto_id}_error")
    return field.as_widget(attrs={"aria-describedby": " ".join(ids)})
