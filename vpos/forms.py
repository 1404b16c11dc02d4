"""Project-wide form rendering.

``FORM_RENDERER = "vpos.forms.FormRenderer"`` makes ``{{ form }}`` and
``{{ form.field.as_field_group }}`` render Bootstrap 5 markup.

Templates used (all under ``templates/``):

* ``forms/div.html``   - the whole form: non-field errors as an alert, one
  ``.mb-3`` wrapper per visible field, hidden fields.
* ``forms/field.html`` - one field: label, widget, help text, errors, with
  the ids Django 5.2 points ``aria-describedby`` at (``<id>_helptext`` and
  ``<id>_error``).
* ``django/forms/widgets/*.html`` - widget overrides that add
  ``form-control`` / ``form-select`` / ``form-check-input`` and
  ``is-invalid``.  ``TemplatesSetting`` looks in the project template
  directories first, so these shadow Django's own widget templates.
"""

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    form_template_name = "forms/div.html"
    field_template_name = "forms/field.html"
